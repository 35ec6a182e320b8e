"""Graceful shutdown of a real server process: SIGTERM lets the request in flight finish."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import without_cost
from tests.factories import Factory
from tests.hardening.processes import start_server

ME = {"query": "{ me { email } }"}


async def wait_until_blocked_on_a_lock(conn: asyncpg.Connection, request: asyncio.Task[Any],
                                       within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if request.done():
            raise AssertionError(f"the request did not wait: {request.result()!r}")
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'portal-graph' "
            "AND wait_event_type = 'Lock' AND datname = current_database()")
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the request never reached the database")


@pytest.mark.slow
async def test_sigterm_lets_the_request_in_flight_finish_and_exits_cleanly(
    database_url: str, settings: Any, make: Factory, tmp_path: Path
) -> None:
    org = await make.organization()
    admin = await make.staff(org, email="inflight@example.com")
    token = await make.session_token(org, admin["person"]["id"])
    server = start_server(tmp_path, database_url, secret_key=settings.secret_key,
                          RUN_OUTBOX_WORKER="true", OUTBOX_POLL_SECONDS="0.2",
                          SHUTDOWN_GRACE_SECONDS="20", REQUEST_TIMEOUT_SECONDS="15")
    # The test holds a lock that the request's viewer lookup must wait for: a slow request
    # made without any test-only code in the server.
    locker = await asyncpg.connect(database_url)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            transaction = locker.transaction()
            await transaction.start()
            await locker.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
            in_flight = asyncio.create_task(http.post(
                f"{server.url}/graphql", json=ME, headers={"Authorization": f"Bearer {token}"}))
            await wait_until_blocked_on_a_lock(locker, in_flight)

            server.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            alive_while_draining = server.process.poll() is None
            with pytest.raises(httpx.ConnectError):  # no new connections while draining
                await http.get(f"{server.url}/healthz")
            await transaction.rollback()  # the slow request can now finish
            response = await in_flight
        started = time.monotonic()
        code = await asyncio.to_thread(server.process.wait, 30)
        print(f"\nexited {code} {time.monotonic() - started:.2f} s after the last response")
    finally:
        await locker.close()
        server.terminate()

    log = server.log()
    assert alive_while_draining
    assert response.status_code == 200
    assert without_cost(response.json()) == {"data": {"me": {"email": "inflight@example.com"}}}
    assert code == 0, log
    assert "outbox worker started" in log and "outbox worker stopped" in log
    assert "Traceback" not in log and " ERROR " not in log, log
