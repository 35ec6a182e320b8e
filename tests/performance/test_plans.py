"""PostgreSQL plans each statement shape once, and its generic plan is as good as a custom one.

asyncpg prepares every statement on its connection; after five runs PostgreSQL may switch a
prepared statement to a generic plan, made without the parameters' values. When the loaders
sent one parameter per parent (`job_id IN ($15, ..., $514)`), each parent count was another
statement, and the generic plan of the 500-job portal's captures walked the customers' index
(358 ms on the bench data instead of 9). Now a statement's text does not depend on how many
parents or grants it is given (one array parameter each), and its generic plan, after six
runs on one connection, scans the same indexes as the custom plan for the same values.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine.default import CACHE_HIT
from sqlalchemy.exc import StatementError

from portal_graph.db import models
from portal_graph.scope import admin_scope, scoped
from portal_graph.scoped_sql import shapes
from portal_graph.scoped_sql.rows import visible_by_ids
from tests.performance.portal_data import portal_rows
from tests.performance.test_statement_counts import PORTAL

# The portal's loader statements, and the index on their parent key.
PARENT_INDEX = {"FROM jobs": "ix_jobs_org_customer_status",
                "FROM map_captures": "ix_map_captures_org_job",
                "FROM assets": "pk_job_assets"}
LOADED = tuple(PARENT_INDEX)
# 200 more customers with 100 jobs each (60% completed), 3 map captures a job (a few without a
# job) and an asset for every other job: the proportions of the bench's data, at a tenth.
OTHER_WORK = text("""
WITH c AS (
  INSERT INTO customers (organization_id, id, name)
  SELECT :org, gen_random_uuid(), 'Other ' || n FROM generate_series(1, 200) n
  RETURNING id),
j AS (
  INSERT INTO jobs (organization_id, id, customer_id, reference, title, status, completed_at)
  SELECT :org, gen_random_uuid(), c.id, 'O-' || md5(random()::text), 'Other work',
         (CASE WHEN n % 5 < 3 THEN 'COMPLETED' ELSE 'SCHEDULED' END)::job_status, now()
  FROM c, generate_series(1, 100) n
  RETURNING id, customer_id),
m AS (
  INSERT INTO map_captures (organization_id, id, customer_id, job_id, latitude, longitude)
  SELECT :org, gen_random_uuid(), j.customer_id, CASE WHEN n = 4 THEN NULL ELSE j.id END,
         51.5, -0.1
  FROM j, generate_series(1, 4) n
  RETURNING 1),
a AS (
  INSERT INTO assets (organization_id, id, customer_id, name)
  SELECT :org, gen_random_uuid(), j.customer_id, 'Other asset ' || j.id FROM j
  WHERE get_byte(uuid_send(j.id), 0) % 2 = 0
  RETURNING id, customer_id)
INSERT INTO job_assets (organization_id, job_id, asset_id)
SELECT :org, (SELECT j.id FROM j WHERE j.customer_id = a.customer_id LIMIT 1), a.id FROM a
""")


async def _viewer(make, sessionmaker, *, customers: int, jobs_per_customer: int):  # type: ignore[no-untyped-def]
    org = await make.organization()
    customer_ids = [await make.customer(org) for _ in range(customers)]
    await portal_rows(sessionmaker, org, customer_ids, jobs_per_customer=jobs_per_customer)
    external = await make.external(org, customer_ids)
    return org, await make.session_token(org, external["person"]["id"])


async def _portal(api, statements, token: str, jobs: int) -> dict[str, tuple[str, Any]]:  # type: ignore[no-untyped-def]
    """The statements of one portal request: {what it reads: (SQL, parameters)}."""
    statements.clear()
    result = await api(PORTAL, {"jobs": jobs}, token=token)
    assert "errors" not in result, result
    sent = dict(zip(statements.statements, statements.parameters, strict=True))
    return {what: next((sql, p) for sql, p in sent.items() if what in sql) for what in LOADED}


def _literal(value: Any) -> str:
    """A parameter as an SQL literal, for EXECUTE (whose arguments cannot be parameters)."""
    if value is None:
        return "NULL"
    if isinstance(value, list | tuple):
        return "'{" + ",".join(str(item) for item in value) + "}'"
    if isinstance(value, bool | int | float):
        return str(value).lower()
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, datetime):
        value = value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"


def _indexes(plan: dict[str, Any]) -> set[str]:
    found = {plan["Index Name"]} if "Index Name" in plan else set()
    if plan["Node Type"] == "Seq Scan":
        found.add(f"seq scan of {plan['Relation Name']}")
    for child in plan.get("Plans", ()):
        found |= _indexes(child)
    return found


async def _explain(conn: Any, name: str, arguments: str, mode: str) -> set[str]:
    await conn.execute(f"SET plan_cache_mode = {mode}")
    [row] = await conn.fetch(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({arguments})")
    explained = json.loads(row[0]) if isinstance(row[0], str) else row[0]  # a codec may decode
    return _indexes(explained[0]["Plan"])


async def test_a_portal_request_sends_the_same_sql_for_3_jobs_and_300(
        counted_api, statements, make, sessionmaker):
    _, few = await _viewer(make, sessionmaker, customers=1, jobs_per_customer=3)
    _, many = await _viewer(make, sessionmaker, customers=3, jobs_per_customer=100)

    small = await _portal(counted_api, statements, few, jobs=100)
    large = await _portal(counted_api, statements, many, jobs=100)

    # grants and parents: one array parameter each, of 1 and 3 ids, then of 3 and 300
    assert [sorted(len(value) for value in parameters if isinstance(value, list))
            for _, parameters in (small["FROM map_captures"], large["FROM map_captures"])] \
        == [[1, 3], [3, 300]]
    assert {what: sql for what, (sql, _) in small.items()} \
        == {what: sql for what, (sql, _) in large.items()}
    assert all("= ANY (" in sql and " IN (" not in sql for sql, _ in large.values())


async def test_after_six_runs_on_one_connection_each_loader_plan_looks_its_parents_up_by_index(
        counted_api, statements, make, sessionmaker, engine):
    org, token = await _viewer(make, sessionmaker, customers=5, jobs_per_customer=100)
    async with engine.begin() as conn:  # and the rest of a realistic organization's work
        await conn.execute(OTHER_WORK, {"org": org})
    sent = await _portal(counted_api, statements, token, jobs=100)

    async with engine.connect() as conn:
        # Statistics for this data, rolled back at the end: left behind, they would mislead
        # the planner in the tests that come after (their data is another organization's).
        await conn.execute(text("ANALYZE jobs, map_captures, assets, job_assets, customers"))
        raw = (await conn.get_raw_connection()).driver_connection
        plans = {}
        for number, (what, (sql, parameters)) in enumerate(sent.items()):
            name, arguments = f"portal_{number}", ", ".join(map(_literal, parameters))
            await raw.execute(f"PREPARE {name} AS {sql}")
            for _ in range(6):  # past the five custom plans PostgreSQL tries first
                await raw.execute(f"EXECUTE {name}({arguments})")
            plans[what] = {mode: await _explain(raw, name, arguments, mode) for mode in
                           ("auto", "force_generic_plan", "force_custom_plan")}
            await raw.execute(f"DEALLOCATE {name}")
        await raw.execute("RESET plan_cache_mode")
        await conn.rollback()

    print(plans)
    # Each statement is driven by its parents: whatever plan PostgreSQL keeps, it looks the
    # parents up in their index, so its work follows the parents, not all of their customers'.
    for what, index in PARENT_INDEX.items():
        for mode in ("auto", "force_generic_plan"):
            assert index in plans[what][mode], (what, mode, plans[what])
            assert not [used for used in plans[what][mode] if used.startswith("seq scan")]


SEARCH = """query($search: String!) { externalUsers(first: 20, search: $search) {
  edges { node { email customers { name } } } } }"""


async def test_a_new_viewers_statements_are_neither_built_nor_compiled_again(
        counted_api, counted_runtime, make, sessionmaker, monkeypatch):
    _, first_viewer = await _viewer(make, sessionmaker, customers=1, jobs_per_customer=2)
    _, second_viewer = await _viewer(make, sessionmaker, customers=4, jobs_per_customer=30)
    org = await make.organization()
    admins = [await make.staff(org) for _ in range(2)]
    tokens = [await make.session_token(org, admin["person"]["id"]) for admin in admins]
    await make.external(org, [await make.customer(org, name="Okafor Estates")])
    compiled: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        compiled.append((" ".join(statement.split())[:80], context.cache_hit))

    await counted_api(PORTAL, {"jobs": 5}, token=first_viewer)  # warm-up: built, compiled
    await counted_api(SEARCH, {"search": "okafo"}, token=tokens[0])
    built = []
    forget = shapes.without_values
    monkeypatch.setattr(shapes, "without_values", lambda s: built.append(s) or forget(s))
    event.listen(counted_runtime.engine.sync_engine, "before_cursor_execute", record)
    try:
        portal = await counted_api(PORTAL, {"jobs": 20}, token=second_viewer)
        search = await counted_api(SEARCH, {"search": "estates"}, token=tokens[1])
    finally:
        event.remove(counted_runtime.engine.sync_engine, "before_cursor_execute", record)

    assert "errors" not in portal and "errors" not in search
    assert len(search["data"]["externalUsers"]["edges"]) == 1
    assert len(compiled) >= 5 + 3
    assert built == []  # every statement was kept from the warm-up (scoped_sql/shapes.py)
    assert [what for what, hit in compiled if hit is not CACHE_HIT] == []


async def test_a_statement_kept_per_shape_runs_with_each_viewers_own_scope(make, sessionmaker):
    first, second = await make.organization(), await make.organization()
    theirs = await make.customer(second, name="Second's customer")
    customers = models.table_of(models.Customer)

    async with sessionmaker() as session:
        # The first call keeps the shape, built with the first organization's scope.
        from_first = await visible_by_ids(session, admin_scope(first), customers, [theirs])
        from_second = await visible_by_ids(session, admin_scope(second), customers, [theirs])

    assert from_first == {}
    assert [row.name for row in from_second.values()] == ["Second's customer"]


async def test_a_kept_shape_refuses_to_run_without_a_scope(make, sessionmaker):
    org = await make.organization()
    await make.customer(org)
    kept = shapes.Shapes().get(admin_scope(org), ("customers",), lambda: scoped(
        admin_scope(org), models.table_of(models.Customer)))

    async with sessionmaker() as session:
        with pytest.raises(StatementError, match="scope_organization_id"):
            await session.execute(kept)
