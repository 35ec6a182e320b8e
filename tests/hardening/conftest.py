"""Fixtures for the hardening tests: a small tenant world and apps with tightened settings."""

from __future__ import annotations

import dataclasses
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_graph.config import Settings
from portal_graph.db import models
from portal_graph.db.models import Base
from tests.conftest import Api
from tests.factories import Factory
from tests.hardening.processes import ServerProcess, start_server


@dataclass(frozen=True)
class World:
    """One organization: an admin, a staff user, an external user granted customer A only."""

    organization_id: uuid.UUID
    admin_token: str
    staff_token: str
    external_token: str
    external_person_id: uuid.UUID
    customer_a: uuid.UUID
    customer_b: uuid.UUID
    completed_a: uuid.UUID
    scheduled_a: uuid.UUID
    completed_b: uuid.UUID


@pytest.fixture
async def world(make: Factory) -> World:
    org = await make.organization(name="Hardened Grounds")
    admin = await make.staff(org)
    staff = await make.staff(org, role=models.Role.USER)
    customer_a = await make.customer(org, name="Customer A")
    customer_b = await make.customer(org, name="Customer B")
    external = await make.external(org, [customer_a])
    return World(
        organization_id=org,
        admin_token=await make.session_token(org, admin["person"]["id"]),
        staff_token=await make.session_token(org, staff["person"]["id"]),
        external_token=await make.session_token(org, external["person"]["id"]),
        external_person_id=external["person"]["id"],
        customer_a=customer_a,
        customer_b=customer_b,
        completed_a=await make.job(org, customer_a, reference="A-DONE"),
        scheduled_a=await make.job(org, customer_a, status=models.JobStatus.SCHEDULED,
                                   reference="A-LATER"),
        completed_b=await make.job(org, customer_b, reference="B-DONE"),
    )


AppFactory = Callable[..., Any]


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """The suite's clean-up (tests/conftest.py), made cheap for the many tests here that
    write little or nothing: one probe finds the tables with rows, and only those are
    emptied, children first, with DELETE (TRUNCATE rewrites every table's files: ~0.5 s a
    test on a busy machine)."""
    yield
    if "engine" not in request.fixturenames:
        return
    engine: AsyncEngine = request.getfixturevalue("engine")
    tables = list(reversed(Base.metadata.sorted_tables))
    probe = " UNION ALL ".join(
        f"SELECT {i} WHERE EXISTS (SELECT 1 FROM \"{t.name}\")" for i, t in enumerate(tables))
    async with engine.begin() as conn:
        for i in sorted((await conn.execute(text(probe))).scalars()):
            await conn.execute(text(f'DELETE FROM "{tables[i].name}"'))


@pytest.fixture
async def runtime_with(settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    """A Runtime (own engine and pool) over the test database with settings overridden."""
    from portal_graph.runtime import Runtime  # imported late: the app is heavy

    made: list[Any] = []

    def build(**overrides: Any) -> Any:
        tuned = settings.model_copy(update=overrides)
        made.append(Runtime.create(tuned, overrides.get("database_url", tuned.database_url)))
        return made[-1]

    yield build
    for runtime in made:
        await runtime.close()


CLOSED = "postgresql://postgres@127.0.0.1:9/nowhere"  # the discard port: nothing listens


def app_over(runtime: Any) -> Any:
    from portal_graph.app import create_app

    return create_app(runtime.settings, runtime)


@pytest.fixture
def app_with(runtime: Any) -> AppFactory:
    """An app over the shared engine whose settings (and rate limits) are overridden."""
    from portal_graph.app import create_app
    from portal_graph.ratelimit import rate_limits_from
    from portal_graph.runtime import bucket_sizes

    def build(**overrides: Any) -> Any:
        settings = runtime.settings.model_copy(update=overrides)
        tuned = dataclasses.replace(runtime, settings=settings,
                                    rate_limits=rate_limits_from(settings),
                                    bucket_sizes=bucket_sizes(settings))
        return create_app(settings, tuned)

    return build


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """HTTP clients for apps built in a test, from a client address of the test's choice."""
    clients: list[httpx.AsyncClient] = []

    def open_client(app: Any, address: str = "203.0.113.7") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://portal.test")
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.aclose()


def api_for(client: httpx.AsyncClient) -> Api:
    return Api(client)


# --- real server processes -----------------------------------------------------------------

PAIR_ENV = {
    # Tight per email, loose per address: the two-process test counts one email's attempts.
    "RATE_LIMIT_LOGIN_PER_EMAIL": "4/600",
    "RATE_LIMIT_LOGIN_PER_ADDRESS": "1000/60",
}


@pytest.fixture(scope="session")
def server_pair(database_url: str, settings: Any, topology_env: dict[str, str],
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ...]]:
    """Two `portal-graph serve` processes on the test database, started once, in parallel."""
    folder = tmp_path_factory.mktemp("servers")
    servers = [start_server(folder, database_url, secret_key=settings.secret_key, wait=False,
                            **PAIR_ENV, **topology_env) for _ in range(2)]
    try:
        for server in servers:
            server.wait_healthy()
        yield tuple(servers)
    finally:
        for server in servers:  # both at once: each drains while the other does
            server.process.send_signal(signal.SIGTERM)
        for server in servers:
            server.terminate()


@pytest.fixture
def server(server_pair: tuple[ServerProcess, ...]) -> ServerProcess:
    return server_pair[0]
