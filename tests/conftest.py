"""Fixtures: a real PostgreSQL database per test run, created, migrated and dropped here.

Tests share one event loop (session scope, see pyproject) so one engine serves them all;
tables are truncated after each test that wrote, keeping tests independent.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from portal_graph.config import Settings, load_settings
from portal_graph.db.engine import make_engine, make_sessionmaker
from portal_graph.db.migrate import upgrade
from portal_graph.db.models import Base
from tests.factories import Factory
from tests.mail.mail_support import SmtpServer

ADMIN_URL = os.environ.get("TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _database_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"portal_graph_test_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = _database_url(name)
    upgrade(url)
    try:
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("data")
    return load_settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key=secrets.token_urlsafe(32),
        portal_url="http://portal.test/accept/",
        run_outbox_worker=False,
        log_format="text",
        smtp_url=None,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return make_sessionmaker(engine)


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
async def services(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Any]:
    from portal_graph.services import Services  # imported late: the app is heavy

    services = Services.create(settings, settings.database_url)
    yield services
    await services.close()


@pytest.fixture(scope="session")
def app(settings: Settings, services: Any):  # type: ignore[no-untyped-def]
    from portal_graph.app import create_app

    return create_app(settings, services)


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
