"""A pooled connection whose server side went away costs no failed request, and no ping.

Connections are not pinged before use (that was a round trip per request). One the server
closed while it sat in the pool is replaced at checkout (asyncpg saw its socket close); one that
dies after checkout fails the session's first statement, which runs again on a fresh
connection: nothing had happened in that transaction. A later statement that loses its
connection is never retried (the transaction's earlier work went with it). The restart of a
real PostgreSQL under load is in test_faults.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_graph.config import Settings
from portal_graph.db import models
from portal_graph.db.engine import make_engine, make_sessionmaker
from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import TENANCY, Tenancy
from tests.conftest import without_cost

ONE_CONNECTION = {"pool_size": 1, "max_overflow": 0}


def acting_for(organization_id: Any) -> dict[str, Any]:
    """Session arguments for transactions that act for one organization (row-level security);
    its opening statement, which says so, is then the first one the connection runs."""
    return {"info": {TENANCY: Tenancy(organization_id)}}


@pytest.fixture
async def small_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings, **ONE_CONNECTION, name="portal-graph-dead-connections")
    yield engine
    await engine.dispose()


async def server_pid(session: RequestSession) -> int:
    """The backend of the session's connection, known without a round trip."""
    raw = await (await session.connection()).get_raw_connection()
    return int(raw.driver_connection.get_server_pid())  # type: ignore[union-attr]


async def terminate(engine: AsyncEngine, pid: int) -> None:
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})


async def backend_pids(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = "
            "'portal-graph-dead-connections' AND datname = current_database()"))).scalars())


async def test_the_first_statement_on_a_connection_that_died_after_checkout_runs_on_a_fresh_one(
    small_engine: AsyncEngine, engine: AsyncEngine, make: Any,
) -> None:
    org = await make.organization()
    sessionmaker = make_sessionmaker(small_engine)
    async with sessionmaker(**acting_for(org)) as session, session.begin():
        dead = await server_pid(session)  # checked out, nothing sent yet
        await terminate(engine, dead)
        await session.execute(insert(models.Customer).values(
            organization_id=org, id=models.new_id(), name="Written after the retry"))
        alive = await server_pid(session)

    async with sessionmaker(**acting_for(org)) as session:
        names = (await session.execute(select(models.Customer.name).where(
            models.Customer.organization_id == org))).scalars().all()
    assert alive != dead
    assert names == ["Written after the retry"]  # committed, on the fresh connection


async def test_a_statement_after_the_first_that_loses_its_connection_fails_and_writes_nothing(
    small_engine: AsyncEngine, engine: AsyncEngine, make: Any,
) -> None:
    org = await make.organization()
    sessionmaker = make_sessionmaker(small_engine)
    with pytest.raises(DBAPIError) as failed:
        async with sessionmaker(**acting_for(org)) as session, session.begin():
            await session.execute(insert(models.Customer).values(
                organization_id=org, id=models.new_id(), name="Lost with its connection"))
            await terminate(engine, await server_pid(session))
            await session.execute(insert(models.Customer).values(
                organization_id=org, id=models.new_id(), name="Never written"))

    async with engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(models.Customer).where(
            models.Customer.organization_id == org))
    assert failed.value.connection_invalidated
    assert count == 0


async def test_a_connection_closed_while_pooled_is_replaced_at_checkout(
    small_engine: AsyncEngine, engine: AsyncEngine,
) -> None:
    sessionmaker = make_sessionmaker(small_engine)
    async with sessionmaker() as session, session.begin():
        assert await session.scalar(text("SELECT 1")) == 1
    [pooled] = await backend_pids(engine)
    await terminate(engine, pooled)

    async with small_engine.connect() as conn:  # a plain connection: no session, no retry
        pid = await conn.scalar(text("SELECT pg_backend_pid()"))
    assert pid != pooled


async def test_a_request_after_its_pooled_connection_died_is_answered(
    api: Any, make: Any, runtime: Any, engine: AsyncEngine,
) -> None:
    org = await make.organization()
    admin = await make.staff(org)
    token = await make.session_token(org, admin["person"]["id"])
    assert (await api("{ me { email } }", token=token))["data"]["me"]
    async with engine.connect() as conn:
        killed = (await conn.execute(text(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE application_name = 'portal-graph' AND datname = current_database() "
            "AND pid <> pg_backend_pid()"))).scalars().all()

    answer = await api("{ me { email } }", token=token)

    assert killed and all(killed)
    assert without_cost(answer) == {"data": {"me": {"email": admin["email"]}}}, answer
