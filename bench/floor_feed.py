"""The floor of the feed workload: `changes(after:, first: 100)` of an external user as raw
SQL (the statement feed/repository.py builds, written out) and the nodes of the page, one
statement per type present, as the server's loaders do."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import asyncpg
import orjson

# $1 organization, $2 external user, $3 granted customers, $4-$6 the cursor, $7 the limit.
_EVER = """EXISTS (SELECT 1 FROM feed_public_periods s JOIN feed_grant_periods g
  ON g.organization_id = s.organization_id AND g.customer_id = s.customer_id
  WHERE s.organization_id = $1 AND s.entity = {entity} AND s.row_id = {row}
    AND g.external_user_id = $2
    AND s.since_position < coalesce(g.until_position, 4611686018427387904)
    AND g.since_position < coalesce(s.until_position, 4611686018427387904))"""
_BRANCH = """(SELECT '{entity}'::text AS entity, t.id AS row_id,
    greatest(t.change_position, g.changed_at) AS position, ({visible}) AS present
  FROM {table} t JOIN grant_changes g ON g.customer_id = t.{customer}
  WHERE t.organization_id = $1
    AND (greatest(t.change_position, g.changed_at), '{entity}'::text, t.id) > ($4, $5, $6)
    AND (({visible}) OR {ever})
  ORDER BY 3, 2 LIMIT $7)"""
_COMPLETED_JOB = """EXISTS (SELECT 1 FROM jobs j WHERE j.organization_id = t.organization_id
  AND j.id = {job} AND j.customer_id = ANY($3) AND j.status = 'COMPLETED')"""
VISIBLE = {
    "Customer": "t.id = ANY($3)",
    "Job": "t.customer_id = ANY($3) AND t.status = 'COMPLETED'",
    "MapCapture": "t.customer_id = ANY($3) AND (t.job_id IS NULL OR "
                  + _COMPLETED_JOB.format(job="t.job_id") + ")",
    "Asset": "t.customer_id = ANY($3) AND EXISTS (SELECT 1 FROM job_assets l JOIN jobs j ON "
             "j.organization_id = l.organization_id AND j.id = l.job_id WHERE "
             "l.organization_id = t.organization_id AND l.asset_id = t.id AND "
             "j.customer_id = ANY($3) AND j.status = 'COMPLETED')",
}
TABLES = {"Customer": ("customers", "id"), "Job": ("jobs", "customer_id"),
          "MapCapture": ("map_captures", "customer_id"), "Asset": ("assets", "customer_id")}
CHANGES = ("""WITH grant_changes AS (
  SELECT customer_id, max(greatest(since_position, coalesce(until_position, 0))) AS changed_at
  FROM feed_grant_periods WHERE organization_id = $1 AND external_user_id = $2
  GROUP BY customer_id)
SELECT * FROM (""" + "\nUNION ALL\n".join(
    _BRANCH.format(entity=entity, table=table, customer=customer, visible=VISIBLE[entity],
                   ever=_EVER.format(entity=f"'{entity}'", row="t.id"))
    for entity, (table, customer) in TABLES.items()) + """
UNION ALL
(SELECT d.entity, d.row_id, d.position, false FROM feed_tombstones d
  JOIN grant_changes g ON g.customer_id = d.customer_id
  WHERE d.organization_id = $1 AND (d.position, d.entity, d.row_id) > ($4, $5, $6)
    AND """ + _EVER.format(entity="d.entity", row="d.row_id") + """
  ORDER BY d.position LIMIT $7)
) AS changes
WHERE present OR $4 > 0  -- from the start (no cursor): no tombstones
ORDER BY position, entity, row_id LIMIT $7""")
NODES = {entity: f"SELECT t.* FROM {table} t WHERE t.organization_id = $1 AND "
                 f"t.id = ANY($2::uuid[]) AND {VISIBLE[entity].replace('$3', '$3::uuid[]')}"
         for entity, (table, _) in TABLES.items()}


def _cursor(position: int, entity: str, row_id: uuid.UUID) -> str:
    raw = orjson.dumps(["c1", str(position), entity, str(row_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[int, str, uuid.UUID]:
    if not cursor:
        return 0, "", uuid.UUID(int=0)
    _, position, entity, row_id = orjson.loads(
        base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return int(position), entity, uuid.UUID(row_id)


def _global_id(type_name: str, id_: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{id_}".encode()).decode().rstrip("=")


async def feed(db: Any, body: dict[str, Any], viewer: asyncpg.Record | None,
               request: Any) -> Any:
    if viewer is None or viewer["external_user_id"] is None:
        return None
    org, grants, first = viewer["organization_id"], viewer["grants"], int(body["first"])
    rows = await db.fetch(CHANGES, org, viewer["external_user_id"], grants,
                          *_decode(body.get("after")), first + 1)
    page = rows[:first]
    wanted: dict[str, list[uuid.UUID]] = {}
    for row in page:
        if row["present"]:
            wanted.setdefault(row["entity"], []).append(row["row_id"])
    found: dict[uuid.UUID, asyncpg.Record] = {}
    for entity, ids in wanted.items():
        for record in await db.fetch(NODES[entity], org, ids, grants):
            found[record["id"]] = record

    def node(entity: str, row_id: uuid.UUID) -> Any:
        record = found.get(row_id)
        if record is None:
            return None
        shown: dict[str, Any] = {"id": _global_id(entity, row_id)}
        if entity == "Job":
            completed = record["completed_at"]
            shown.update(reference=record["reference"], title=record["title"],
                         status=record["status"],
                         completedAt=completed.isoformat() if completed else None)
        return shown

    edges = [{"cursor": _cursor(row["position"], row["entity"], row["row_id"]),
              "node": {"nodeId": _global_id(row["entity"], row["row_id"]),
                       "removed": not row["present"],
                       "node": node(row["entity"], row["row_id"]) if row["present"] else None}}
             for row in page]
    return {"changes": {"edges": edges, "pageInfo": {
        "hasNextPage": len(rows) > first,
        "endCursor": edges[-1]["cursor"] if edges else body.get("after")}}}
