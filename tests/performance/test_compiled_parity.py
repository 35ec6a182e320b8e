"""The compiled read plans run the reads graphql-core runs: the same statements, the same
answer, and the bench's documents are theirs (graphql/compiled/)."""

from __future__ import annotations

from typing import Any

from portal_graph.graphql.core.relay import to_global_id
from tests.performance.portal_data import portal_rows
from tests.performance.test_statement_counts import (
    PORTAL,
    STAFF_JOBS,
    STAFF_JOBS_COUNTED,
    _portal_viewer,
    _staff_token,
)

NODE = """query Node($id: ID!) { node(id: $id) { id ... on Job { reference title status
  completedAt customer { name } } } }"""
# A nested connection's bad cursor nulls a job; the sibling job's totalCount awaited the same
# count (one loader future per key): graphql-core's cancellation of the nulled job's fields
# used to cancel that shared future too, and the request failed with CancelledError.
SHARED_COUNT = """query($c: ID) { jobs(first: 1, customerId: $c) { edges {
  a: node { id mapCaptures { totalCount } assets(after: "garbage") { totalCount } }
  b: node { mapCaptures(first: 2) { totalCount } } } } }"""


async def _both(counted_api: Any, statements: Any, counted_app: Any, query: str,
                variables: dict[str, Any] | None, token: str) -> tuple[Any, Any, int]:
    """The answer and statements on each path; and how many requests a plan answered."""
    executor = counted_app.state.executor
    seen = []
    ran = executor.compiled.ran
    for execution in ("compiled", "graphql"):
        executor.execution = execution
        statements.clear()
        seen.append((await counted_api(query, variables, token=token), len(statements)))
    return seen[0], seen[1], executor.compiled.ran - ran


async def test_the_portal_is_answered_by_its_plan_with_graphql_cores_statements(
        counted_api, statements, counted_app, make, sessionmaker):
    token = await _portal_viewer(make, sessionmaker, customers=3, jobs_per_customer=20)

    compiled, graphql, planned = await _both(counted_api, statements, counted_app, PORTAL,
                                             {"jobs": 10}, token)

    assert planned == 1
    assert compiled == graphql
    assert "errors" not in compiled[0]


async def test_node_and_staff_lists_are_answered_by_their_plans(
        counted_api, statements, counted_app, make, sessionmaker):
    org, token = await _staff_token(make)
    customers = [await make.customer(org) for _ in range(2)]
    jobs = await portal_rows(sessionmaker, org, customers, jobs_per_customer=3)

    for query, variables in ((NODE, {"id": to_global_id("Job", jobs[0])}),
                             (STAFF_JOBS, None), (STAFF_JOBS_COUNTED, None)):
        compiled, graphql, planned = await _both(counted_api, statements, counted_app,
                                                 query, variables, token)
        assert (planned, compiled) == (1, graphql), query


async def test_a_field_error_under_a_shared_count_is_reported_not_a_crash(
        counted_api, statements, counted_app, make, sessionmaker):
    org, token = await _staff_token(make)
    customers = [await make.customer(org)]
    await portal_rows(sessionmaker, org, customers, jobs_per_customer=1)

    compiled, graphql, planned = await _both(
        counted_api, statements, counted_app, SHARED_COUNT,
        {"c": to_global_id("Customer", customers[0])}, token)

    assert planned == 0  # the plan meets the error and hands the request to graphql-core
    assert compiled[0] == graphql[0]
    assert [e["extensions"]["code"] for e in graphql[0]["errors"]] == ["BAD_USER_INPUT"]
