"""The app through PgBouncer in transaction mode (Debian's 1.18: no prepared statements of its
own in that mode), with DB_PGBOUNCER=true.

Consecutive transactions of one client connection run on whichever server connection is free,
so anything a transaction leaves on its server connection (a setting, a prepared statement, a
role) meets another client's next transaction. The bouncer here has two server connections for
many clients, so requests of two organizations interleave on them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, text

from portal_graph.config import Settings
from portal_graph.db import models
from tests.conftest import ADMIN_URL, STANDBY_PORT, Api, RunDatabase
from tests.factories import Factory
from tests.topology import POOLED_PASS, PgBouncer, pgbouncer_missing, user_of

pytestmark = pytest.mark.pooled

JOBS = "{ me { email organization { name } } jobs(first: 20) { nodes { reference } } }"


@pytest.fixture(scope="module")
def bouncer(test_database: RunDatabase) -> Iterator[PgBouncer]:
    """A bouncer of its own: two server connections, whatever the suite's pass uses."""
    missing = pgbouncer_missing()
    if missing:
        pytest.skip(missing)
    server = urlsplit(ADMIN_URL)
    bouncer = PgBouncer.start(server.hostname or "127.0.0.1", server.port or 5432,
                              [test_database.owner, user_of(ADMIN_URL)], pool_size=2)
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture
async def pooled_api(bouncer: PgBouncer, test_database: RunDatabase,
                     settings: Settings) -> AsyncIterator[tuple[Api, Any]]:
    from portal_graph.app import create_app
    from portal_graph.runtime import Runtime

    tuned = settings.model_copy(update={
        "database_url": bouncer.url(test_database.owner_url), "db_pgbouncer": True,
        "database_direct_url": test_database.owner_url})
    services = Runtime.create(tuned, tuned.database_url)
    transport = httpx.ASGITransport(app=create_app(tuned, services),
                                    client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
        yield Api(client), services
    await services.close()


async def org_with_jobs(make: Factory, label: str) -> tuple[uuid.UUID, str, str]:
    org = await make.organization(name=f"{label} Grounds")
    admin = await make.staff(org)
    customer = await make.customer(org)
    for number in range(3):
        await make.job(org, customer, reference=f"{label}-{number}")
    external = await make.external(org, [customer])
    return (org, await make.session_token(org, admin["person"]["id"]),
            await make.session_token(org, external["person"]["id"]))


async def test_requests_of_two_organizations_interleaved_on_two_server_connections_each_see_their_own(  # noqa: E501
    pooled_api: tuple[Api, Any], make: Factory,
) -> None:
    api, _ = pooled_api
    worlds = {label: await org_with_jobs(make, label) for label in ("North", "South")}

    async def read(label: str, token: str) -> tuple[str, set[str]]:
        body = await api(JOBS, token=token)
        assert "errors" not in body, body
        return label, {node["reference"].split("-")[0] for node in body["data"]["jobs"]["nodes"]}

    reads = [read(label, token) for label, (_, admin, external) in worlds.items()
             for token in (admin, external) for _ in range(10)]
    for label, prefixes in await asyncio.gather(*reads):
        assert prefixes == {label}


async def test_a_mutation_through_pgbouncer_commits(pooled_api: tuple[Api, Any], make: Factory,
                                                    sessionmaker: Any) -> None:
    api, _ = pooled_api
    org, admin, _ = await org_with_jobs(make, "Writer")
    body = await api("mutation { createCustomer(input: {name: \"Through the bouncer\"}) "
                     "{ customer { name } userErrors { code } } }", token=admin)
    assert body["data"]["createCustomer"]["userErrors"] == [], body
    async with sessionmaker() as session:
        names = (await session.scalars(select(models.Customer.name).where(
            models.Customer.organization_id == org))).all()
    assert "Through the bouncer" in names


async def test_nothing_a_transaction_sets_is_left_on_the_server_connection(
    pooled_api: tuple[Api, Any], make: Factory, bouncer: PgBouncer,
    test_database: RunDatabase, settings: Settings,
) -> None:
    """The timeouts and the tenant are said in each transaction's opening statement, as
    transaction-local settings; after the app's requests, a plain client of the same pool sees
    the server's defaults, no tenant and no role switched."""
    api, services = pooled_api
    _, admin, external = await org_with_jobs(make, "Leak")
    for token in (admin, external, admin):
        assert "errors" not in await api(JOBS, token=token)

    async with services.sessionmaker() as session, session.begin():
        inside = (await session.execute(text(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout')"))).all()
    assert dict(inside) == {  # type: ignore[arg-type]
        "statement_timeout": str(settings.db_statement_timeout_ms),
        "lock_timeout": str(settings.db_lock_timeout_ms),
        "idle_in_transaction_session_timeout": str(settings.db_idle_in_transaction_timeout_ms)}

    outside = await asyncpg.connect(bouncer.url(test_database.owner_url), statement_cache_size=0)
    try:
        for _ in range(4):  # whichever of the two server connections answers
            row = await outside.fetchrow(
                "SELECT current_setting('app.organization_id', true) AS org, "
                "current_setting('statement_timeout') AS timeout, current_user AS role, "
                "(SELECT count(*) FROM pg_prepared_statements) AS prepared")
            assert row["org"] in (None, "")
            # Only the unnamed statement is used, never a named one that could be left behind
            # (named ones were: their close went out later, on another server connection).
            assert row["prepared"] == 0
            assert row["timeout"] == "0"
            assert row["role"] == test_database.owner
    finally:
        await outside.close()


async def test_without_the_setting_pgbouncer_1_18_refuses_the_connection_settings(
    bouncer: PgBouncer, test_database: RunDatabase, settings: Settings,
) -> None:
    """Why DB_PGBOUNCER exists: the start-up packet's settings (the timeouts) are refused."""
    from portal_graph.db.engine import make_engine

    plain = settings.model_copy(update={"db_pgbouncer": False})
    engine = make_engine(plain, bouncer.url(test_database.owner_url))
    try:
        with pytest.raises(Exception, match="unsupported startup parameter"):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


def test_the_pooled_pass_reaches_the_database_through_pgbouncer(
    settings: Settings, pooled_pgbouncer: PgBouncer | None, test_database: RunDatabase,
) -> None:
    """scripts/test's second pass is what it says: the app's URL is the bouncer's."""
    if POOLED_PASS:
        assert pooled_pgbouncer is not None
        assert settings.db_pgbouncer
        assert f":{pooled_pgbouncer.port}/" in (settings.database_url or "")
        assert settings.direct_url == test_database.owner_url
        assert bool(settings.read_urls) == bool(STANDBY_PORT)
    else:
        assert settings.database_url == test_database.owner_url and not settings.db_pgbouncer



async def test_in_the_pooled_pass_signed_in_reads_run_on_the_standby(
    api: Api, make: Factory, runtime: Any,
) -> None:
    """With scripts/test's primary and standby pair, the suite's own app reads from it."""
    if not STANDBY_PORT:
        assert runtime.replicas is None
        return
    _, admin, external = await org_with_jobs(make, "Standby")
    before = REGISTRY.get_sample_value("portal_graph_db_reads_total", {"target": "replica"})
    for token in (admin, external):
        assert "errors" not in await api(JOBS, token=token)
    after = REGISTRY.get_sample_value("portal_graph_db_reads_total", {"target": "replica"})
    assert (after or 0) - (before or 0) == 2
