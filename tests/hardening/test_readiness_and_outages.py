"""Busy is not down, and an outage the server rides out is not an error.

`/readyz` says "not ready" only when the database cannot be reached; a pool with every connection
in use still answers ready (it connects on its own, outside the pool), and the pool's use shows in
/metrics. A database outage a request or the outbox worker rides out is one WARNING line per
event and a count in /metrics, without a traceback; a failure the server cannot handle stays an
ERROR with the request id (tests/hardening/test_masking_and_request_ids.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_graph.observability import RequestContextFilter
from portal_graph.observability.metrics import DATABASE_UNAVAILABLE, DB_POOL_WAITING
from tests.hardening.conftest import CLOSED, World, api_for, app_over
from tests.observability.conftest import MetricsPage, scrape

ME = "{ me { email } }"
POOL = "portal-graph"  # the request pool's name: its connections' application_name


@pytest.fixture
def request_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog, with the filter the server's log handler has: records get their request id."""
    caplog.handler.addFilter(RequestContextFilter())
    caplog.set_level(logging.INFO)
    return caplog


def warnings_and_worse(log: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in log.records if r.levelno >= logging.WARNING]


def pool_gauges(page: MetricsPage) -> dict[str, float]:
    return {name: page.value(f"portal_graph_db_pool_{name}", pool=POOL)
            for name in ("checked_out", "waiting")}


async def eventually(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


# --- readiness -------------------------------------------------------------------------------


async def test_a_full_pool_is_busy_not_down_ready_with_its_use_in_the_metrics(
    runtime_with: Callable[..., Any], client_for: Any,
) -> None:
    # given an instance whose one pooled connection is in use, and a request waiting for it
    runtime = runtime_with(db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=30)
    client = client_for(app_over(runtime), address="127.0.0.1")  # /metrics: loopback only
    before = pool_gauges(await scrape(client))
    waiting = DB_POOL_WAITING.labels(POOL)
    waiting_before = waiting._value.get()

    async def wait_for_a_connection(engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async with runtime.engine.connect() as held:
        await held.execute(text("SELECT 1"))
        waiter = asyncio.create_task(wait_for_a_connection(runtime.engine))
        await eventually(lambda: waiting._value.get() == waiting_before + 1)

        # when
        ready = await client.get("/readyz")
        during = pool_gauges(await scrape(client))
    await waiter

    # then
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "database": "up"})
    assert {name: during[name] - before[name] for name in during} == {
        "checked_out": 1, "waiting": 1}
    assert pool_gauges(await scrape(client)) == before  # and back once the pool drains


async def test_an_unreachable_database_is_not_ready_and_logged_as_a_warning(
    runtime_with: Callable[..., Any], client_for: Any, request_log: pytest.LogCaptureFixture,
) -> None:
    client = client_for(app_over(runtime_with(database_url=CLOSED)))

    ready = await client.get("/readyz")
    health = await client.get("/healthz")

    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable",
                                                       "database": "down"})
    assert health.status_code == 200  # alive: restarting the process would not help
    [line] = warnings_and_worse(request_log)
    assert (line.levelname, line.exc_info) == ("WARNING", None)
    assert line.getMessage().startswith("not ready: database unreachable: ")


async def test_readiness_reports_a_reachable_database_up(client: httpx.AsyncClient) -> None:
    ready = await client.get("/readyz")

    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "up"}


# --- requests that lose the database ---------------------------------------------------------


async def test_a_request_refused_for_want_of_the_database_is_one_warning_line_and_a_count(
    runtime_with: Callable[..., Any], client_for: Any, request_log: pytest.LogCaptureFixture,
) -> None:
    api = api_for(client_for(app_over(runtime_with(database_url=CLOSED))))
    counted = DATABASE_UNAVAILABLE.labels("request")
    before = counted._value.get()

    await api(ME, token="pgs_" + "x" * 43)  # a session token: it must be looked up

    assert api.response is not None and api.response.status_code == 503
    [line] = warnings_and_worse(request_log)
    assert (line.levelname, line.exc_info) == ("WARNING", None)
    assert line.getMessage() == ("database unavailable, answered 503: ConnectionRefusedError: "
                                 "[Errno 111] Connect call failed ('127.0.0.1', 9)")
    assert line.request_id == api.response.headers["x-request-id"]  # type: ignore[attr-defined]
    assert counted._value.get() == before + 1


async def test_a_request_whose_connection_dies_mid_query_is_a_503_and_one_warning_line(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch,
    request_log: pytest.LogCaptureFixture,
) -> None:
    # given a resolver whose connection is cut while it runs (as a database restart does)
    async def build_viewer(session: Any, viewer: Any) -> None:
        await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    monkeypatch.setattr("portal_graph.accounts.queries.build_viewer", build_viewer)
    api = api_for(client)

    # when
    body = await api(ME, token=world.admin_token)

    # then the client is told to retry, and the log has one warning line, no traceback
    assert api.response is not None
    assert (api.response.status_code, api.response.headers["retry-after"]) == (503, "2")
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    [line] = warnings_and_worse(request_log)
    assert (line.levelname, line.exc_info) == ("WARNING", None)
    assert line.getMessage().startswith("database unavailable, answered 503: ")
