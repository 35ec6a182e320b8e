"""Fixtures: a real PostgreSQL database per test run, created, migrated and dropped here.

The database belongs to a role made for the run, as on a managed server: it owns its database
and tables, and is neither a superuser nor allowed to create roles or bypass row-level
security. The app under test connects as that role (`database_url`), so every request in the
suite passes PostgreSQL's tenant policies. The tests' own view (`engine`, `sessionmaker`: the
factories, the clean-up and the assertions about stored rows) connects as the administrator,
which sees every row.

Tests share one event loop (session scope, see pyproject) so one engine serves them all;
tables are truncated after each test that wrote, keeping tests independent.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from portal_graph.config import Settings, load_settings
from portal_graph.db.engine import asyncpg_url, make_engine, make_sessionmaker
from portal_graph.db.migrate import upgrade
from portal_graph.db.models import Base
from portal_graph.db.session import RequestSession
from tests.factories import Factory
from tests.mail.mail_support import SmtpServer
from tests.topology import POOLED_PASS, PgBouncer, pgbouncer_missing, user_of

ROOMY = "1000000000/100000000"
ROOMY_BUCKETS = {"cost_bucket_staff": ROOMY, "cost_bucket_external": ROOMY,
                 "cost_bucket_anonymous": ROOMY}
ADMIN_URL = os.environ.get("TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Set by scripts/test's pooled pass: a streaming standby of ADMIN_URL's server, on this port.
STANDBY_PORT = os.environ.get("PORTAL_GRAPH_TEST_STANDBY_PORT", "")


def _database_url(name: str) -> str:
    """A database's URL, as the administrator."""
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def _admin(*statements: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@dataclass(frozen=True)
class RunDatabase:
    name: str
    owner: str  # LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS; owns the database
    password: str

    def url_as(self, user: str | None = None, password: str | None = None) -> str:
        """This database's URL, as the administrator or as another role."""
        parts = urlsplit(ADMIN_URL)
        netloc = parts.netloc
        if user is not None:
            host = netloc.rpartition("@")[2]
            netloc = f"{quote(user)}:{quote(password or '')}@{host}"
        return urlunsplit((parts.scheme, netloc, f"/{self.name}", parts.query, ""))

    @property
    def owner_url(self) -> str:
        return self.url_as(self.owner, self.password)

    @property
    def admin_url(self) -> str:
        return self.url_as()


@pytest.fixture(scope="session")
def test_database() -> Iterator[RunDatabase]:
    name = f"portal_graph_test_{os.getpid()}_{secrets.token_hex(3)}"
    database = RunDatabase(name=name, owner=name, password=secrets.token_urlsafe(16))
    asyncio.run(_admin(
        f"CREATE ROLE \"{database.owner}\" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB "
        f"NOBYPASSRLS PASSWORD '{database.password}'",
        f'CREATE DATABASE "{name}" OWNER "{database.owner}"'))
    try:
        upgrade(database.owner_url)
        yield database
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                           f'DROP ROLE IF EXISTS "{database.owner}"'))


@pytest.fixture(scope="session")
def pooled_pgbouncer(test_database: RunDatabase) -> Iterator[PgBouncer | None]:
    """In scripts/test's second pass (PORTAL_GRAPH_TEST_PGBOUNCER=1): PgBouncer in
    transaction mode in front of the test database, which the app then reaches through it."""
    if not POOLED_PASS:
        yield None
        return
    missing = pgbouncer_missing()
    if missing:
        pytest.skip(f"the pooled pass needs PgBouncer: {missing}")
    parts = urlsplit(ADMIN_URL)
    bouncer = PgBouncer.start(parts.hostname or "127.0.0.1", parts.port or 5432,
                              [test_database.owner, user_of(ADMIN_URL)])
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture(scope="session")
def database_url(test_database: RunDatabase, pooled_pgbouncer: PgBouncer | None) -> str:
    """What the app connects with: the database's owner, bound by row-level security (through
    PgBouncer in the pooled pass)."""
    if pooled_pgbouncer is not None:
        return pooled_pgbouncer.url(test_database.owner_url)
    return test_database.owner_url


@pytest.fixture(scope="session")
def topology_env(test_database: RunDatabase, pooled_pgbouncer: PgBouncer | None,
                 ) -> dict[str, str]:
    """The settings (as environment variables) that go with `database_url`, for the server
    processes tests start: in the pooled pass, PgBouncer's, and the standby's when scripts/test
    made a primary and standby pair (`python -m tests.topology up`)."""
    env: dict[str, str] = {}
    if pooled_pgbouncer is not None:
        env.update(DB_PGBOUNCER="true", DATABASE_DIRECT_URL=test_database.owner_url)
    if STANDBY_PORT:
        parts = urlsplit(test_database.owner_url)
        standby = parts._replace(netloc=f"{parts.netloc.rpartition(':')[0]}:{STANDBY_PORT}")
        env.update(DATABASE_READ_URLS=urlunsplit(standby), DB_REPLICA_CHECK_SECONDS="0.1")
    return env


@pytest.fixture(scope="session")
def settings(database_url: str, topology_env: dict[str, str],
             tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("data")
    return load_settings(
        **{name.lower(): value for name, value in topology_env.items()},
        database_url=database_url,
        data_dir=data_dir,
        secret_key=secrets.token_urlsafe(32),
        portal_url="http://portal.test/accept/",
        run_outbox_worker=False,
        run_webhook_worker=False,
        log_format="text",
        smtp_url=None,
        # Cost buckets that no test fills by accident; tests/cost/ sizes its own.
        **ROOMY_BUCKETS,
    )


@pytest.fixture(scope="session")
async def engine(test_database: RunDatabase) -> AsyncIterator[AsyncEngine]:
    """The tests' own view of the database: the administrator, who sees every row."""
    engine = create_async_engine(asyncpg_url(test_database.admin_url), pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@pytest.fixture(scope="session")
async def app_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The app's own connection (the database's owner), for tests that run app code without
    HTTP: its transactions see only what row-level security lets through."""
    engine = make_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def app_sessionmaker(app_engine: AsyncEngine) -> async_sessionmaker[RequestSession]:
    return make_sessionmaker(app_engine)


TABLES = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "engine" in request.fixturenames:
        engine: AsyncEngine = request.getfixturevalue("engine")
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {TABLES} CASCADE"))


# --- the API, in process, over HTTP --------------------------------------------------------


@pytest.fixture(scope="session")
async def runtime(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Any]:
    """The app's runtime, connecting as the database's owner (see `database_url`)."""
    from portal_graph.runtime import Runtime  # imported late: the app is heavy

    runtime = Runtime.create(settings, settings.database_url)
    if runtime.replicas is not None:  # the app's lifespan would start it; tests have none
        await runtime.replicas.start()
    yield runtime
    await runtime.close()


@pytest.fixture(scope="session")
def app(settings: Settings, runtime: Any):  # type: ignore[no-untyped-def]
    from portal_graph.app import create_app

    return create_app(settings, runtime)


def without_cost(body: dict[str, Any]) -> dict[str, Any]:
    """A response body without its `extensions.cost` (every GraphQL response carries one, see
    tests/cost/), for tests that compare whole bodies."""
    extensions = {k: v for k, v in (body.get("extensions") or {}).items() if k != "cost"}
    stripped = {k: v for k, v in body.items() if k != "extensions"}
    return {**stripped, "extensions": extensions} if extensions else stripped


class Api:
    """POSTs GraphQL to the app; returns the decoded body (and keeps the last response)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.response: httpx.Response | None = None

    async def __call__(self, query: str, variables: dict | None = None,
                       token: str | None = None, **headers: str) -> dict:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        return self.response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
        yield client


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


@pytest.fixture
def make(sessionmaker: async_sessionmaker, engine: AsyncEngine) -> Factory:
    return Factory(sessionmaker)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, collecting what it is sent."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
