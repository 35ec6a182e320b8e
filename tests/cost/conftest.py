"""Fixtures for cost and trusted documents: apps with buckets and settings of a test's choice,
and a small world (an admin, an external user granted customer A)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from portal_graph.db import models
from tests.conftest import Api
from tests.factories import Factory

MAKE_TOKEN = 'mutation { createApiToken(input: {name: "partner"}) { token } }'


@dataclass(frozen=True)
class World:
    organization_id: uuid.UUID
    admin_token: str
    external_token: str  # a session
    customer_a: uuid.UUID
    customer_b: uuid.UUID


@pytest.fixture
async def world(make: Factory) -> World:
    org = await make.organization(name="Costed Grounds")
    admin = await make.staff(org)
    customer_a = await make.customer(org, name="Customer A")
    customer_b = await make.customer(org, name="Customer B")
    external = await make.external(org, [customer_a])
    for reference in ("A-1", "A-2", "A-3"):
        await make.job(org, customer_a, reference=reference)
    await make.job(org, customer_a, status=models.JobStatus.SCHEDULED, reference="A-LATER")
    await make.job(org, customer_b, reference="B-1")
    return World(org, await make.session_token(org, admin["person"]["id"]),
                 await make.session_token(org, external["person"]["id"]), customer_a,
                 customer_b)


@pytest.fixture
def app_with(runtime: Any) -> Callable[..., Any]:
    """An app over the shared engine with settings (buckets, TRUSTED_DOCUMENTS) overridden."""
    from portal_graph.app import create_app
    from portal_graph.runtime import bucket_sizes

    def build(**overrides: Any) -> Any:
        settings = runtime.settings.model_copy(update=overrides)
        tuned = dataclasses.replace(runtime, settings=settings,
                                    bucket_sizes=bucket_sizes(settings))
        return create_app(settings, tuned)

    return build


@pytest.fixture
async def api_for() -> AsyncIterator[Callable[..., Api]]:
    clients: list[httpx.AsyncClient] = []

    def open_api(app: Any, address: str = "203.0.113.7") -> Api:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://portal.test"))
        return Api(clients[-1])

    yield open_api
    for client in clients:
        await client.aclose()


async def api_token(api: Api, session_token: str) -> str:
    """An API token made by the holder of `session_token`."""
    body = await api(MAKE_TOKEN, token=session_token)
    return str(body["data"]["createApiToken"]["token"])
