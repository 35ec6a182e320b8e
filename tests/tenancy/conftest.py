"""The app on each kind of database setup, for the row-level security tests.

- `owner`: the suite's own setup: DATABASE_URL is a plain role (NOSUPERUSER NOCREATEROLE) that
  owns its database, as on a managed server; FORCE ROW LEVEL SECURITY binds it.
- `superuser`: the machine's PostgreSQL with DATABASE_URL as its superuser: `migrate` creates
  the request role and every transaction switches to it.
- `embedded`: no DATABASE_URL at all: pgserver's PostgreSQL 16, whose login is a superuser too.

Each `Deployment` offers the app over HTTP (`api`), the test's own view of every row (`admin`,
the database administrator) and two organizations with an admin, a customer and a job each.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pgserver
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from portal_graph.config import Settings
from portal_graph.db.engine import asyncpg_url
from portal_graph.db.migrate import upgrade
from portal_graph.db.models import Base
from tests.conftest import Api, RunDatabase
from tests.factories import Factory

PG_CTL = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
SETUPS = ("owner", "superuser", "embedded")
T = TypeVar("T")


@dataclass(frozen=True)
class Organization:
    id: uuid.UUID
    admin_token: str
    customer_id: uuid.UUID
    customer_name: str
    job_reference: str


@dataclass
class Deployment:
    setup: str
    runtime: Any
    api: Api
    admin_engine: AsyncEngine  # sees every row: the test's own view, never the app's

    async def organization(self, label: str) -> Organization:
        make = Factory(async_sessionmaker(self.admin_engine, expire_on_commit=False))
        org = await make.organization(name=f"{label} {uuid.uuid4().hex[:6]}")
        admin = await make.staff(org)
        name = f"{label} customer {uuid.uuid4().hex[:6]}"
        customer = await make.customer(org, name=name)
        reference = f"{label}-{uuid.uuid4().hex[:6]}"
        await make.job(org, customer, reference=reference)
        return Organization(org, await make.session_token(org, admin["person"]["id"]),
                            customer, name, reference)

    @contextlib.asynccontextmanager
    async def without_policy(self, table: str) -> AsyncIterator[None]:
        """Row-level security switched off on one table (for controls that must leak)."""
        async with self.admin_engine.begin() as conn:
            await conn.execute(text(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY'))
        try:
            yield
        finally:
            async with self.admin_engine.begin() as conn:
                await conn.execute(text(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY'))


@contextlib.asynccontextmanager
async def _deployment(setup: str, settings: Settings, database_url: str,
                      admin_url: str) -> AsyncIterator[Deployment]:
    from portal_graph.app import create_app
    from portal_graph.runtime import Runtime

    tuned = settings.model_copy(update={"database_url": database_url})
    runtime = Runtime.create(tuned, database_url)
    admin_engine = create_async_engine(asyncpg_url(admin_url), pool_size=2)
    transport = httpx.ASGITransport(app=create_app(tuned, runtime), client=("203.0.113.8", 1))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
            yield Deployment(setup, runtime, Api(http), admin_engine)
    finally:
        await runtime.close()
        await admin_engine.dispose()


def in_a_thread(function: Callable[..., T], *args: Any) -> T:
    """`migrate` runs its own event loop: not inside the tests' running one."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(function, *args).result()


@pytest.fixture(scope="module")
def embedded_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """pgserver's PostgreSQL in a temporary folder, migrated (as its superuser login)."""
    pgdata = tmp_path_factory.mktemp("embedded") / "pgdata"
    pgdata.mkdir()
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        server.psql("CREATE DATABASE portal_graph")
        url: str = server.get_uri("portal_graph")
        in_a_thread(upgrade, url)
        yield url
    finally:
        server.cleanup()
        if (pgdata / "postmaster.pid").exists():
            user = ["runuser", "-u", "pgserver", "--"] if os.geteuid() == 0 else []
            subprocess.run([*user, str(PG_CTL), "-D", str(pgdata), "stop", "-m", "fast"],
                           capture_output=True, timeout=60, check=False)


@pytest.fixture(params=SETUPS)
async def deployment(request: pytest.FixtureRequest, settings: Settings,
                     test_database: RunDatabase, engine: AsyncEngine,
                     ) -> AsyncIterator[Deployment]:
    setup = request.param
    if setup == "owner":
        urls = (test_database.owner_url, test_database.admin_url)
    elif setup == "superuser":
        # Nothing to migrate; as a superuser, `migrate` provisions the request role.
        in_a_thread(upgrade, test_database.admin_url)
        urls = (test_database.admin_url, test_database.admin_url)
    else:
        url = request.getfixturevalue("embedded_url")
        urls = (url, url)
    async with _deployment(setup, settings, *urls) as deployment:
        yield deployment
        if setup == "embedded":  # the suite's clean-up empties only the suite's database
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            async with deployment.admin_engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
