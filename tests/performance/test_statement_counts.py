"""SQL statements per request do not grow with the rows: one per list level, plus the session.

Counted with SQLAlchemy's `before_cursor_execute` on the app's own engine. Every viewer gets a
fresh session, so the throttled "last seen" UPDATE (at most once a minute) never runs here.
"The session" is two statements: the transaction's opening, which puts it in the viewer-lookup
context of row-level security, and the lookup itself, which also enters the viewer's
organization (db/tenancy.py).
"""

from __future__ import annotations

from sqlalchemy import text

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id
from tests.performance.portal_data import portal_rows

PORTAL = """query($jobs: Int!) { customers(first: 50) { edges { node { name
  jobs(first: $jobs, status: COMPLETED) { edges { node { reference title completedAt
    mapCaptures(first: 10) { edges { node { latitude longitude note } } }
    assets(first: 10) { edges { node { name kind } } } } } } } } } }"""
# customers, jobs, map captures, assets: four list levels, and the session lookup.
PORTAL_LIST_LEVELS = 4
SESSION = 2  # the tenancy opening and the viewer lookup
STAFF_JOBS = """{ jobs(first: 100) { edges { node { reference customer { name } } } } }"""
STAFF_JOBS_COUNTED = """{ jobs(first: 100) { totalCount edges { node { reference
  customer { name } mapCaptures(first: 5) { totalCount edges { node { note } } } } } } }"""
STAFF_DEEP = """{ jobs(first: 100) { edges { node { reference assignedStaff { email }
  customer { name } mapCaptures(first: 5) { edges { node { note capturedBy { email }
    job { title } customer { name } } } }
  assets(first: 5) { edges { node { name customer { name } } } } } } } }"""
JOBS_AFTER = """query($after: String) { jobs(first: 20, after: $after) {
  edges { cursor node { reference } } pageInfo { hasNextPage endCursor } } }"""


def nodes_query(ids: list[str]) -> str:
    aliased = " ".join(f'n{i}: node(id: "{id_}") {{ ...Shown }}' for i, id_ in enumerate(ids))
    return ("{ " + aliased + " } fragment Shown on Node { id ... on Job { title } "
            "... on Customer { name } ... on Asset { name } ... on MapCapture { note } }")


async def _portal_viewer(make, sessionmaker, *, customers: int, jobs_per_customer: int):  # type: ignore[no-untyped-def]
    org = await make.organization()
    customer_ids = [await make.customer(org) for _ in range(customers)]
    await portal_rows(sessionmaker, org, customer_ids, jobs_per_customer=jobs_per_customer)
    external = await make.external(org, customer_ids)
    return await make.session_token(org, external["person"]["id"])


async def _staff_token(make):  # type: ignore[no-untyped-def]
    org = await make.organization()
    staff = await make.staff(org, role=models.Role.MANAGER)
    return org, await make.session_token(org, staff["person"]["id"])


async def _count(api, statements, query, variables=None, *, token):  # type: ignore[no-untyped-def]
    statements.clear()
    result = await api(query, variables, token=token)
    assert "errors" not in result, result
    return len(statements), result["data"]


def _jobs_in(data: dict) -> int:
    return sum(len(c["node"]["jobs"]["edges"]) for c in data["customers"]["edges"])


async def test_portal_query_runs_the_same_statements_for_5_and_500_jobs(
        counted_api, statements, make, sessionmaker):
    few = await _portal_viewer(make, sessionmaker, customers=5, jobs_per_customer=1)
    many = await _portal_viewer(make, sessionmaker, customers=5, jobs_per_customer=100)

    few_count, few_data = await _count(counted_api, statements, PORTAL, {"jobs": 100},
                                       token=few)
    many_count, many_data = await _count(counted_api, statements, PORTAL, {"jobs": 100},
                                         token=many)

    assert (_jobs_in(few_data), _jobs_in(many_data)) == (5, 500)
    first_job = many_data["customers"]["edges"][0]["node"]["jobs"]["edges"][0]["node"]
    assert len(first_job["mapCaptures"]["edges"]) == len(first_job["assets"]["edges"]) == 2
    assert few_count == many_count
    assert many_count <= PORTAL_LIST_LEVELS + SESSION


async def test_node_lookups_cost_one_statement_per_type_however_many_ids(
        counted_api, statements, make, sessionmaker):
    org, token = await _staff_token(make)
    customer_ids = [await make.customer(org) for _ in range(2)]
    job_ids = await portal_rows(sessionmaker, org, customer_ids, jobs_per_customer=3)
    asset_id = await make.asset(org, customer_ids[0])
    capture_id = await make.capture(org, customer_ids[0])
    mixed = ([to_global_id("Customer", c) for c in customer_ids]
             + [to_global_id("Job", j) for j in job_ids]
             + [to_global_id("Asset", asset_id), to_global_id("MapCapture", capture_id)])
    missing = [to_global_id("Job", models.new_id()) for _ in range(20)]

    two, _ = await _count(counted_api, statements, nodes_query(mixed[:1] + mixed[-3:]),
                          token=token)
    thirty, data = await _count(counted_api, statements,
                                nodes_query((mixed * 3)[:10] + missing), token=token)

    assert sum(value is not None for value in data.values()) == 10
    assert two == thirty == SESSION + 4  # the session, then one batch per type


async def test_staff_job_list_with_customers_costs_the_same_for_5_and_100_jobs(
        counted_api, statements, make, sessionmaker):
    org, token = await _staff_token(make)
    few = await _count(counted_api, statements, STAFF_JOBS, token=token)
    customer_ids = [await make.customer(org) for _ in range(10)]
    await portal_rows(sessionmaker, org, customer_ids[:1], jobs_per_customer=5)
    five, _ = await _count(counted_api, statements, STAFF_JOBS, token=token)
    await portal_rows(sessionmaker, org, customer_ids[1:], jobs_per_customer=11)
    hundred, data = await _count(counted_api, statements, STAFF_JOBS, token=token)

    assert len(data["jobs"]["edges"]) == 100
    assert few[0] == SESSION + 1  # the session and an empty page: no customers to load
    assert five == hundred == SESSION + 2


async def test_every_nested_relation_of_staff_jobs_is_batched(
        counted_api, statements, make, sessionmaker):
    org, token = await _staff_token(make)
    customer_ids = [await make.customer(org) for _ in range(10)]
    await portal_rows(sessionmaker, org, customer_ids[:1], jobs_per_customer=2)
    small, _ = await _count(counted_api, statements, STAFF_DEEP, token=token)
    await portal_rows(sessionmaker, org, customer_ids[1:], jobs_per_customer=11)
    large, data = await _count(counted_api, statements, STAFF_DEEP, token=token)

    assert len(data["jobs"]["edges"]) == 100
    # session; jobs; their staff; customers (the captures' and assets' customers are the
    # jobs' customers, already loaded); captures; the captures' jobs; assets. No capture
    # here has a `capturedBy`, so the staff-by-id loader never runs.
    assert small == large == SESSION + 6


async def test_total_counts_are_one_statement_per_connection_level(
        counted_api, statements, make, sessionmaker):
    org, token = await _staff_token(make)
    customer_ids = [await make.customer(org) for _ in range(4)]
    await portal_rows(sessionmaker, org, customer_ids, jobs_per_customer=25)

    count, data = await _count(counted_api, statements, STAFF_JOBS_COUNTED, token=token)

    assert data["jobs"]["totalCount"] == 100
    # session; jobs page and count; customers; captures page and count
    assert count == SESSION + 5


async def test_the_last_page_of_a_long_job_list_is_a_keyset_range_not_an_offset(
        counted_api, statements, make, sessionmaker, engine, app_engine):
    org, token = await _staff_token(make)
    customer_id = await make.customer(org)
    await portal_rows(sessionmaker, org, [customer_id], jobs_per_customer=2000,
                      captures_per_job=0, assets_per_job=0)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE jobs"))
    after = None
    for _ in range(99):  # 99 pages of 20 in; the 100th is the last
        page = (await counted_api(JOBS_AFTER, {"after": after}, token=token))["data"]["jobs"]
        after = page["pageInfo"]["endCursor"]
    statements.clear()
    last = (await counted_api(JOBS_AFTER, {"after": after}, token=token))["data"]["jobs"]
    page_sql = next(s for s in statements.statements if "FROM jobs" in s)
    # Planned as the app plans it: its own role, bound by the row-level security policy.
    async with app_engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        params = statements.parameters[statements.statements.index(page_sql)]
        async with raw.transaction():
            await raw.execute("SELECT set_config('app.organization_id', $1, true)", str(org))
            plan = "\n".join(r[0] for r in await raw.fetch("EXPLAIN " + page_sql, *params))

    assert len(last["edges"]) == 20 and last["pageInfo"]["hasNextPage"] is False
    assert "OFFSET" not in page_sql.upper()
    print(plan)
    assert "Index" in plan and "Sort" not in plan, plan


# --- the look-ahead loads exactly what the resolvers will ask for -------------------------------

ALIASED = """{ customers(first: 5) { edges { node {
  recent: jobs(first: 2, status: COMPLETED) { edges { node { reference } } }
  more: jobs(first: 4, status: COMPLETED) { edges { node { reference } } }
  again: jobs(first: 2, status: COMPLETED) { edges { node { reference } } } } } } }"""
SKIPPED = """query($withAssets: Boolean!) { customers(first: 5) { edges { node {
  jobs(first: 5) { edges { node { reference
    assets(first: 3) @include(if: $withAssets) { edges { node { name } } } } } } } } } }"""
THROUGH_FRAGMENTS = """{ customers(first: 5) { ...Page } }
fragment Page on CustomerConnection { nodes { ... on Customer { jobs { ...Jobs } } } }
fragment Jobs on JobConnection { edges { node { mapCaptures(first: 3) { nodes { note } } } } }"""
BAD_NESTED_CURSOR = """{ customers(first: 5) { edges { node {
  jobs(first: 2, after: "not-a-cursor") { edges { node { reference } } } } } } }"""


async def test_aliases_with_different_pages_cost_one_statement_per_distinct_page(
        counted_api, statements, make, sessionmaker):
    token = await _portal_viewer(make, sessionmaker, customers=2, jobs_per_customer=5)

    count, data = await _count(counted_api, statements, ALIASED, token=token)

    customer = data["customers"]["edges"][0]["node"]
    assert (len(customer["recent"]["edges"]), len(customer["more"]["edges"])) == (2, 4)
    assert customer["again"] == customer["recent"]
    assert count == SESSION + 1 + 2  # session, customers, one batch per distinct `first`


async def test_a_connection_left_out_by_a_directive_is_not_loaded(
        counted_api, statements, make, sessionmaker):
    token = await _portal_viewer(make, sessionmaker, customers=2, jobs_per_customer=3)

    without, data = await _count(counted_api, statements, SKIPPED, {"withAssets": False},
                                 token=token)
    with_assets, _ = await _count(counted_api, statements, SKIPPED, {"withAssets": True},
                                  token=token)

    assert "assets" not in data["customers"]["edges"][0]["node"]["jobs"]["edges"][0]["node"]
    assert (without, with_assets) == (SESSION + 2, SESSION + 3)


async def test_connections_selected_through_fragments_and_nodes_are_batched(
        counted_api, statements, make, sessionmaker):
    token = await _portal_viewer(make, sessionmaker, customers=3, jobs_per_customer=4)

    count, data = await _count(counted_api, statements, THROUGH_FRAGMENTS, token=token)

    jobs = data["customers"]["nodes"][0]["jobs"]["edges"]
    assert len(jobs) == 4 and len(jobs[0]["node"]["mapCaptures"]["nodes"]) == 2
    assert count == SESSION + 3  # session, customers, jobs, captures


async def test_a_bad_cursor_in_a_nested_connection_is_still_a_user_error(
        counted_api, make, sessionmaker):
    token = await _portal_viewer(make, sessionmaker, customers=2, jobs_per_customer=2)

    result = await counted_api(BAD_NESTED_CURSOR, token=token)

    assert {e["extensions"]["code"] for e in result["errors"]} == {"BAD_USER_INPUT"}
    assert {e["message"] for e in result["errors"]} == {"Invalid cursor."}
