"""`externalUsers(search:)` finds people through their trigram indexes and looks each one up in
the organization's memberships by index, however many members the organization has.

The bench's search (a five-letter fragment, 239 of 20,000 users) took 59 ms at p99: the name
index's GIN pending list (never merged without a vacuum) made it slower to search than reading
every person, and the memberships were hashed whole, twice. Where the server has no pg_trgm
(the embedded one), the same SQL runs without the indexes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from portal_graph.db import models

SEARCH = """query($search: String!) { externalUsers(first: 20, search: $search) {
  edges { node { email name customers { name } } } } }"""
TRIGRAM_INDEXES = ("ix_persons_email_normalized_trgm", "ix_persons_name_trgm",
                   "ix_customers_name_trgm")
# 5,000 members, 1 in 100 named Okafor; 200 customers, each member granted one.
MEMBERS = text("""
WITH p AS (
  INSERT INTO persons (id, email, email_normalized, name)
  SELECT gen_random_uuid(), e, e, initcap(split_part(e, '.', 1)) || ' '
                                  || initcap(split_part(e, '.', 2))
  FROM (SELECT CASE WHEN n % 100 = 0 THEN 'ada' ELSE 'sam' END || '.'
               || CASE WHEN n % 100 = 0 THEN 'okafor' ELSE 'smith' || (n % 97) END
               || '.' || n || '@client.example' AS e
        FROM generate_series(1, 5000) n) emails
  RETURNING id),
c AS (
  INSERT INTO customers (organization_id, id, name)
  SELECT :org, gen_random_uuid(), 'Customer ' || n FROM generate_series(1, 200) n
  RETURNING id),
numbered_customers AS (SELECT id, row_number() OVER () AS n FROM c),
eu AS (
  INSERT INTO external_users (organization_id, id, person_id)
  SELECT :org, gen_random_uuid(), p.id FROM p
  RETURNING id)
INSERT INTO customer_grants (organization_id, external_user_id, customer_id)
SELECT :org, eu.id, nc.id FROM (SELECT id, row_number() OVER () AS n FROM eu) eu
JOIN numbered_customers nc ON nc.n = eu.n % 200 + 1
""")


async def _trigram_indexes(engine: Any) -> dict[str, list[str] | None]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:names)"),
            {"names": list(TRIGRAM_INDEXES)})
        return {name: options for name, options in rows.all()}


async def test_the_search_indexes_keep_no_pending_list(engine):
    indexes = await _trigram_indexes(engine)
    if not indexes:
        pytest.skip("this PostgreSQL has no pg_trgm: search runs without indexes")

    assert indexes == {name: ["fastupdate=off"] for name in TRIGRAM_INDEXES}


def _plan_lines(plan: dict[str, Any]) -> list[str]:
    line = plan["Node Type"] + " " + plan.get("Index Name", plan.get("Relation Name", ""))
    return [line.strip()] + [line for child in plan.get("Plans", ())
                             for line in _plan_lines(child)]


async def test_a_five_letter_search_reads_indexes_not_every_member(
        counted_api, statements, make, engine):
    if not await _trigram_indexes(engine):
        pytest.skip("this PostgreSQL has no pg_trgm: search runs without indexes")
    org = await make.organization()
    admin = await make.staff(org, role=models.Role.ADMIN)
    token = await make.session_token(org, admin["person"]["id"])
    async with engine.begin() as conn:
        await conn.execute(MEMBERS, {"org": org})

    statements.clear()
    result = await counted_api(SEARCH, {"search": "Okafo"}, token=token)
    sql, parameters = next((s, p) for s, p in zip(statements.statements, statements.parameters,
                                                  strict=True) if "LIKE" in s)
    async with engine.connect() as conn:
        # Statistics for this data, rolled back with the connection's transaction: left
        # behind, they would mislead the planner in the tests that come after.
        await conn.execute(text("ANALYZE persons, external_users, customers, customer_grants"))
        raw = (await conn.get_raw_connection()).driver_connection
        [row] = await raw.fetch("EXPLAIN (FORMAT JSON) " + sql, *parameters)
        await conn.rollback()
    explained = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    plan = _plan_lines(explained[0]["Plan"])

    assert len(result["data"]["externalUsers"]["edges"]) == 20
    print("\n".join(plan))
    assert {"Bitmap Index Scan ix_persons_name_trgm",
            "Bitmap Index Scan ix_persons_email_normalized_trgm",
            "Index Scan uq_external_users_org_person"} <= set(plan)
    assert not {"Seq Scan persons", "Seq Scan external_users"} & set(plan)
