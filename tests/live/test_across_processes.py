"""Two `portal-graph serve` processes on one database: an event committed through one is heard
by a subscriber of the other (PostgreSQL LISTEN/NOTIFY; no other server in between)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id
from tests.hardening.processes import ServerProcess, start_server
from tests.live.support import JOB_UPDATED, SET_STATUS, LiveClient

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_servers(database_url: str, settings: Any,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ...]]:
    folder = tmp_path_factory.mktemp("live-servers")
    servers = [start_server(folder, database_url, secret_key=settings.secret_key or "",
                            wait=False) for _ in range(2)]
    try:
        for server in servers:
            server.wait_healthy()
        yield tuple(servers)
    finally:
        for server in servers:
            server.process.send_signal(signal.SIGTERM)
        for server in servers:
            server.terminate()


async def test_a_subscriber_on_one_process_sees_a_job_completed_through_the_other(
        make, two_servers):
    one, other = two_servers
    org = await make.organization()
    customer = await make.customer(org)
    admin = await make.staff(org, models.Role.ADMIN)
    external = await make.external(org, [customer])
    job = await make.job(org, customer, models.JobStatus.IN_PROGRESS)
    admin_token = await make.session_token(org, admin["person_id"])
    client = await LiveClient.open(one.url, await make.session_token(org, external["person_id"]))
    try:
        id_ = await client.subscribe(JOB_UPDATED)
        await client.nothing_within(0.5)  # subscribed (and nothing visible happened yet)
        async with httpx.AsyncClient(base_url=other.url) as http:
            answer = (await http.post("/graphql", json={
                "query": SET_STATUS,
                "variables": {"id": to_global_id("Job", job), "status": "COMPLETED"}},
                headers={"Authorization": f"Bearer {admin_token}"})).json()
        committed = time.monotonic()
        assert answer["data"]["setJobStatus"]["job"]["status"] == "COMPLETED"
        message = await client.receive(wait=1.0)
        heard_after = time.monotonic() - committed
        assert message["id"] == id_
        assert message["payload"]["data"]["jobUpdated"]["status"] == "COMPLETED"
        assert heard_after < 1.0
        print(f"heard {heard_after * 1000:.0f} ms after the mutation's answer")
    finally:
        await client.close()
