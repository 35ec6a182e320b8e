"""Bounded resources: the pool, statement and request deadlines, requests when the DB is gone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_graph.config import Settings
from portal_graph.customers import service as customers
from portal_graph.db.outage import database_unavailable
from tests.conftest import without_cost
from tests.hardening.conftest import CLOSED, AppFactory, World, api_for, app_over

ME = "{ me { email } }"
CREATE_CUSTOMER = """
mutation { createCustomer(input: {name: "Slow Ltd"}) { customer { id } userErrors { code } } }"""


def sleeping_viewer(monkeypatch: pytest.MonkeyPatch, seconds: float, *, in_sql: bool) -> None:
    """`me` becomes slow: asleep in Python, or in PostgreSQL (pg_sleep) on the request session."""

    async def build_viewer(session: Any, viewer: Any) -> None:
        if in_sql:
            await session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
        else:
            await asyncio.sleep(seconds)

    monkeypatch.setattr("portal_graph.accounts.queries.build_viewer", build_viewer)


async def sleeping_sessions(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' "
            "AND state = 'active' AND pid <> pg_backend_pid()")))


async def connections_returned(engine: AsyncEngine) -> None:
    """Wait until no connection of `engine`'s pool is checked out: woken by the pool's own
    check-in event, not by a guess at how long a cancel takes."""
    pool = engine.sync_engine.pool
    returned = asyncio.Event()
    loop = asyncio.get_running_loop()

    def checked_in(*args: Any) -> None:
        # Counted once the pool has taken the connection back, after this event returns.
        loop.call_soon_threadsafe(lambda: pool.checkedout() == 0 and returned.set())

    event.listen(pool, "checkin", checked_in)
    try:
        if pool.checkedout() == 0:
            return
        async with asyncio.timeout(10):  # a deadline for a failure, not a wait
            await returned.wait()
    finally:
        event.remove(pool, "checkin", checked_in)


# --- the pool --------------------------------------------------------------------------------


async def test_the_pool_is_bounded_by_default(runtime: Any, settings: Settings) -> None:
    pool = runtime.engine.pool

    assert pool.size() == settings.db_pool_size == 10
    assert pool._max_overflow == settings.db_max_overflow == 5  # type: ignore[attr-defined]
    assert pool._timeout == 10  # type: ignore[attr-defined]  # then: 503, not a queue forever


async def test_concurrent_requests_wait_for_the_pool_instead_of_opening_connections(
    runtime_with: Callable[..., Any], client_for: Any, world: World
) -> None:
    runtime = runtime_with(db_pool_size=2, db_max_overflow=0)
    out, peak = 0, 0

    def checkout(*args: Any) -> None:
        nonlocal out, peak
        out += 1
        peak = max(peak, out)

    def checkin(*args: Any) -> None:
        nonlocal out
        out -= 1

    event.listen(runtime.engine.sync_engine, "checkout", checkout)
    event.listen(runtime.engine.sync_engine, "checkin", checkin)
    api = api_for(client_for(app_over(runtime)))

    bodies = await asyncio.gather(*(api(ME, token=world.admin_token) for _ in range(12)))

    assert all(b["data"]["me"] for b in bodies)
    assert peak == 2
    assert runtime.engine.pool.checkedout() == 0  # every connection went back


# --- statement timeout -----------------------------------------------------------------------


async def test_a_slow_statement_is_cancelled_by_the_statement_timeout(
    runtime_with: Callable[..., Any],
) -> None:
    runtime = runtime_with(db_statement_timeout_ms=200)

    started = time.perf_counter()
    with pytest.raises(exc.DBAPIError) as raised:
        async with runtime.sessionmaker() as session:
            await session.execute(text("SELECT pg_sleep(3)"))
    elapsed = time.perf_counter() - started

    print(f"\npg_sleep(3) cancelled after {elapsed * 1000:.0f} ms")
    assert raised.value.orig.sqlstate == "57014"  # type: ignore[union-attr]  # query_canceled
    assert elapsed < 2


async def test_a_request_whose_statement_is_cancelled_gets_a_masked_error(
    runtime_with: Callable[..., Any], client_for: Any, world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = api_for(client_for(app_over(runtime_with(db_statement_timeout_ms=200))))
    sleeping_viewer(monkeypatch, 3, in_sql=True)

    body = await api(ME, token=world.admin_token)

    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "statement timeout" not in str(body)


# --- request timeout -------------------------------------------------------------------------


async def test_a_request_past_its_deadline_is_answered_504_timeout(
    app_with: AppFactory, client_for: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = api_for(client_for(app_with(request_timeout_seconds=0.5)))
    sleeping_viewer(monkeypatch, 5, in_sql=False)

    started = time.perf_counter()
    body = await api(ME, token=world.admin_token)
    elapsed = time.perf_counter() - started

    print(f"\nrequest stopped after {elapsed * 1000:.0f} ms")
    assert api.response is not None and api.response.status_code == 504
    assert body == {"errors": [{"message": "The request took too long and was stopped.",
                                "extensions": {"code": "TIMEOUT", "requestId":
                                               api.response.headers["x-request-id"]}}]}
    assert elapsed < 2


async def test_a_timed_out_request_cancels_its_sql_and_returns_its_connection(
    runtime_with: Callable[..., Any], client_for: Any, world: World, engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = runtime_with(request_timeout_seconds=0.5, db_pool_size=1, db_max_overflow=0)
    api = api_for(client_for(app_over(runtime)))
    sleeping_viewer(monkeypatch, 30, in_sql=True)

    timed_out = await api(ME, token=world.admin_token)
    monkeypatch.undo()
    await connections_returned(runtime.engine)  # the cancel done, the connection back
    still_sleeping = await sleeping_sessions(engine)
    after = await api(ME, token=world.admin_token)  # the pool's one connection is usable

    assert timed_out["errors"][0]["extensions"]["code"] == "TIMEOUT"
    assert still_sleeping == 0
    assert after["data"]["me"] is not None


async def test_a_mutation_cut_off_by_the_deadline_leaves_nothing_behind(
    app_with: AppFactory, client_for: Any, world: World, engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = api_for(client_for(app_with(request_timeout_seconds=0.5)))
    real_create = customers.create_customer

    async def create_then_stall(*args: Any, **kwargs: Any) -> Any:
        row = await real_create(*args, **kwargs)
        await asyncio.sleep(5)
        return row

    monkeypatch.setattr(customers, "create_customer", create_then_stall)

    body = await api(CREATE_CUSTOMER, token=world.admin_token)

    assert body["errors"][0]["extensions"]["code"] == "TIMEOUT"
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM customers WHERE name = 'Slow Ltd'")) \
            == 0


# --- the database is gone --------------------------------------------------------------------

async def test_graphql_answers_503_while_the_database_is_unreachable(
    runtime_with: Callable[..., Any], client_for: Any
) -> None:
    api = api_for(client_for(app_over(runtime_with(database_url=CLOSED))))

    body = await api(ME, token="pgs_" + "x" * 43)  # a session token: it must be looked up

    assert api.response is not None and api.response.status_code == 503
    assert api.response.headers["retry-after"] == "2"
    assert body == {"errors": [{
        "message": "The service is temporarily unavailable. Try again shortly.",
        "extensions": {"code": "SERVICE_UNAVAILABLE",
                       "requestId": api.response.headers["x-request-id"]}}]}


async def test_a_request_that_needs_no_database_is_still_answered(
    runtime_with: Callable[..., Any], client_for: Any
) -> None:
    api = api_for(client_for(app_over(runtime_with(database_url=CLOSED))))

    assert without_cost(await api("{ __typename }")) == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("error, unavailable", [
    (ConnectionRefusedError(111, "refused"), True),
    (exc.TimeoutError("QueuePool limit reached"), True),
    (exc.DBAPIError("SELECT 1", {}, Exception("x"), connection_invalidated=True), True),
    (exc.PendingRollbackError("Can't reconnect until invalid transaction is rolled back."), True),
    (exc.PendingRollbackError("This Session's transaction has been rolled back"), False),
    (ValueError("a bug"), False),
    (exc.ProgrammingError("SELECT nope", {}, Exception("syntax")), False),
])
def test_what_counts_as_the_database_being_unavailable(error: Exception,
                                                       unavailable: bool) -> None:
    assert database_unavailable(error) is unavailable
