"""Every connection carries `lock_timeout` and `idle_in_transaction_session_timeout`: a request
stuck behind a row lock gives up, and a transaction someone left open is ended by PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from portal_graph.config import Settings
from tests.hardening.conftest import World, api_for, app_over

TIMEOUTS = text("SELECT current_setting('lock_timeout'), "
                "current_setting('idle_in_transaction_session_timeout')")
SET_TTL = """mutation { updateOrganizationSettings(input: {invitationTtlDays: 9}) {
  organization { invitationTtlDays } userErrors { code } } }"""


async def test_the_defaults_are_set_on_every_connection(runtime: Any,
                                                         settings: Settings) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        lock, idle = (await session.execute(TIMEOUTS)).one()

    assert (settings.db_lock_timeout_ms, settings.db_idle_in_transaction_timeout_ms) \
        == (3000, 60_000)
    assert (lock, idle) == ("3s", "1min")


async def test_configured_timeouts_are_what_the_connections_get(
        runtime_with: Callable[..., Any]) -> None:
    tuned = runtime_with(db_lock_timeout_ms=1234, db_idle_in_transaction_timeout_ms=5678)

    async with tuned.sessionmaker() as session, session.begin():
        assert tuple((await session.execute(TIMEOUTS)).one()) == ("1234ms", "5678ms")
    async with tuned.rate_limiter._sessionmaker() as session, session.begin():
        assert tuple((await session.execute(TIMEOUTS)).one()) == ("1234ms", "5678ms")


async def test_a_request_behind_a_row_lock_gives_up_instead_of_waiting(
        runtime_with: Callable[..., Any], client_for: Any, world: World,
        engine: Any) -> None:
    api = api_for(client_for(app_over(runtime_with(db_lock_timeout_ms=200))))

    async with engine.connect() as holder:  # another transaction holds the organization row
        await holder.execute(text("SELECT 1 FROM organizations WHERE id = :id FOR UPDATE"),
                             {"id": world.organization_id})
        answer = await asyncio.wait_for(api(SET_TTL, token=world.admin_token), timeout=4)
        await holder.rollback()

    # Answered, masked (a lock wait is no business outcome), and nothing changed.
    assert answer["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    async with engine.connect() as conn:
        ttl = await conn.scalar(text("SELECT invitation_ttl_days FROM organizations "
                                     "WHERE id = :id"), {"id": world.organization_id})
    assert ttl == 7


async def test_a_transaction_left_open_is_ended_by_the_server(
        runtime_with: Callable[..., Any]) -> None:
    tuned = runtime_with(db_idle_in_transaction_timeout_ms=200)

    async with tuned.sessionmaker() as session:
        await session.begin()
        await session.execute(text("SELECT 1"))
        await asyncio.sleep(0.6)  # idle in the transaction, past the timeout
        with pytest.raises(DBAPIError, match="connection is closed"):
            await session.execute(text("SELECT 1"))


async def test_rate_limit_counts_do_not_wait_for_the_disk_but_requests_do(runtime: Any) -> None:
    durability = text("SELECT current_setting('synchronous_commit')")
    async with runtime.sessionmaker() as session, session.begin():
        requests = await session.scalar(durability)
    async with runtime.rate_limiter._sessionmaker() as session, session.begin():
        counters = await session.scalar(durability)

    assert (requests, counters) == ("on", "off")
