"""Every response tells what it cost and what is left in the caller's bucket; a request whose
cost does not fit is refused with THROTTLED before anything of it runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text

from portal_graph.graphql.cost import actual_cost
from tests.cost.conftest import MAKE_TOKEN, World, api_token

# Three completed jobs are visible to the external user of the world: requested cost
# 1 + 3 x 3 = 10 (jobs, then edges, node and reference for each of 3), actual 1 + 1 + 3 + 3 = 8.
THREE_JOBS = "{ jobs(first: 3) { edges { node { reference } } } }"
THREE_JOBS_REQUESTED, THREE_JOBS_ACTUAL = 10, 8


def cost(body: dict[str, Any]) -> dict[str, Any]:
    return body["extensions"]["cost"]  # type: ignore[no-any-return]


async def test_a_query_reports_its_requested_and_actual_cost_and_the_bucket(
        app_with: Any, api_for: Any, world: World) -> None:
    api = api_for(app_with(cost_bucket_external="1000/50"))

    body = await api(THREE_JOBS, token=world.external_token)

    assert len(body["data"]["jobs"]["edges"]) == 3
    reported = cost(body)
    assert reported["requestedQueryCost"] == THREE_JOBS_REQUESTED
    assert reported["actualQueryCost"] == THREE_JOBS_ACTUAL
    throttle = reported["throttleStatus"]
    assert throttle["maximumAvailable"] == 1000
    assert throttle["restoreRate"] == 50
    assert 1000 - THREE_JOBS_ACTUAL <= throttle["currentlyAvailable"] <= 1000


async def test_a_mutation_reports_its_cost(app_with: Any, api_for: Any, world: World) -> None:
    api = api_for(app_with(cost_bucket_staff="5000/100"))

    body = await api(MAKE_TOKEN, token=world.admin_token)

    assert body["data"]["createApiToken"]["token"]
    assert cost(body)["requestedQueryCost"] == 2  # createApiToken, token
    assert cost(body)["actualQueryCost"] == 2
    assert cost(body)["throttleStatus"]["maximumAvailable"] == 5000


async def test_a_refused_document_reports_a_cost_of_nothing(app_with: Any, api_for: Any,
                                                           world: World) -> None:
    api = api_for(app_with(cost_bucket_external="1000/50"))

    invalid = await api("{ jobs { nope } }", token=world.external_token)
    unparsable = await api("{ jobs(", token=world.external_token)

    for body in (invalid, unparsable):
        assert body["errors"]
        assert cost(body)["requestedQueryCost"] == 0
        assert cost(body)["actualQueryCost"] == 0
        assert cost(body)["throttleStatus"]["currentlyAvailable"] == 1000


async def test_a_field_error_still_reports_the_cost(app_with: Any, api_for: Any,
                                                   world: World) -> None:
    api = api_for(app_with(cost_bucket_external="1000/50"))

    body = await api('{ job(id: "not-a-global-id") { reference } }', token=world.external_token)

    assert "extensions" in body and "cost" in body["extensions"]
    assert cost(body)["requestedQueryCost"] == 2


async def test_anonymous_callers_are_charged_to_their_address(app_with: Any, api_for: Any,
                                                              engine: Any) -> None:
    app = app_with(cost_bucket_anonymous="30/1")
    one, same_address, other = (api_for(app, "198.51.100.1"), api_for(app, "198.51.100.1"),
                                api_for(app, "198.51.100.2"))

    first = await one("{ __typename }")
    await same_address("{ __typename }")
    await other("{ __typename }")

    assert cost(first)["throttleStatus"]["maximumAvailable"] == 30
    async with engine.connect() as conn:
        keys = (await conn.execute(text("SELECT key FROM cost_buckets"))).scalars().all()
    assert len(keys) == 2  # one per address
    assert not any("198.51.100" in key for key in keys)  # stored as an HMAC


async def test_over_budget_is_throttled_with_the_time_to_retry(app_with: Any, api_for: Any,
                                                              world: World) -> None:
    # 20 holds two charges of 10 corrected to 8 (16), not a third 10: refused.
    api = api_for(app_with(cost_bucket_external="20/1"))

    first = await api(THREE_JOBS, token=world.external_token)
    second = await api(THREE_JOBS, token=world.external_token)
    third = await api(THREE_JOBS, token=world.external_token)

    assert "errors" not in first and "errors" not in second
    assert api.response is not None and api.response.status_code == 429
    error = third["errors"][0]
    assert error["extensions"]["code"] == "THROTTLED"
    retry = error["extensions"]["retryAfter"]
    assert 1 <= retry <= 6
    assert api.response.headers["retry-after"] == str(retry)
    assert "data" not in third
    assert cost(third)["requestedQueryCost"] == THREE_JOBS_REQUESTED
    assert cost(third)["actualQueryCost"] == 0
    assert cost(third)["throttleStatus"]["currentlyAvailable"] < THREE_JOBS_REQUESTED


async def test_each_api_token_and_session_has_its_own_bucket(app_with: Any, api_for: Any,
                                                             world: World) -> None:
    api = api_for(app_with(cost_bucket_external="20/1", cost_bucket_staff="100000/100"))
    token = await api_token(api, world.external_token)

    drained = [await api(THREE_JOBS, token=world.external_token) for _ in range(3)]
    by_token = await api(THREE_JOBS, token=token)

    assert drained[-1]["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "errors" not in by_token
    assert cost(by_token)["throttleStatus"]["currentlyAvailable"] >= 20 - THREE_JOBS_ACTUAL


async def test_throttled_arrives_before_any_sql_of_the_refused_request(
        runtime: Any, app_with: Any, api_for: Any, world: World) -> None:
    api = api_for(app_with(cost_bucket_external="20/1"))
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    target = runtime.engine.sync_engine
    event.listen(target, "before_cursor_execute", record)
    try:
        await api("{ __typename }", token=world.external_token)  # the viewer, nothing else
        baseline = list(statements)
        await api(THREE_JOBS, token=world.external_token)
        await api(THREE_JOBS, token=world.external_token)
        statements.clear()
        throttled = await api(THREE_JOBS, token=world.external_token)
        refused = list(statements)
    finally:
        event.remove(target, "before_cursor_execute", record)

    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert refused == baseline  # who is asking: the same statements as a query of nothing
    assert not any("jobs" in statement for statement in refused)


def test_the_actual_cost_counts_every_field_in_every_object() -> None:
    data = {"jobs": {"edges": [{"node": {"id": "1", "title": "a"}}] * 40,
                     "pageInfo": {"hasNextPage": False}}}

    assert actual_cost(data) == 1 + 2 + 40 + 80 + 1
    assert actual_cost(None) == 0
    assert actual_cost({"me": None}) == 1


async def test_with_cost_accounting_off_nothing_is_charged_or_reported(
        app_with: Any, api_for: Any, world: World) -> None:
    api = api_for(app_with(cost_accounting=False, cost_bucket_external="20/1"))

    answers = [await api(THREE_JOBS, token=world.external_token) for _ in range(3)]

    assert all("errors" not in body and "extensions" not in body for body in answers)
