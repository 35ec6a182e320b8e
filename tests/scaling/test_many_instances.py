"""Two `portal-graph serve` instances on one database, as behind a load balancer: whatever one
does, the other knows, because everything shared lives in PostgreSQL (sessions, rate limits,
the outbox) or travels through it (domain events, LISTEN/NOTIFY).

In the pooled pass both reach the database through PgBouncer (their event hubs straight).
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.factories import PASSWORD, Factory
from tests.hardening.processes import ServerProcess, start_server
from tests.invitations.support import INVITE, REVOKE_ALL, gid, only
from tests.mail.mail_support import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.pooled]

LOGIN = """mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token userErrors { code } } }"""
LOGIN_LIMIT = 3


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def instances(database_url: str, settings: Any, topology_env: dict[str, str], smtp: SmtpServer,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ...]]:
    folder = tmp_path_factory.mktemp("instances")
    env = {**topology_env, "RUN_OUTBOX_WORKER": "true", "SMTP_URL": smtp.url,
           "OUTBOX_POLL_SECONDS": "0.1", "RATE_LIMIT_LOGIN_PER_EMAIL": f"{LOGIN_LIMIT}/600",
           "RATE_LIMIT_LOGIN_PER_ADDRESS": "1000/60"}
    servers = [start_server(folder, database_url, secret_key=settings.secret_key, wait=False,
                            **env) for _ in range(2)]
    try:
        for server in servers:
            server.wait_healthy()
        yield tuple(servers)
    finally:
        for server in servers:
            server.process.send_signal(signal.SIGTERM)
        for server in servers:
            server.terminate()


async def post(http: httpx.AsyncClient, server: ServerProcess, query: str,
               variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post(f"{server.url}/graphql", headers=headers,
                               json={"query": query, "variables": variables or {}})
    return response.json()


async def events_heard(http: httpx.AsyncClient, server: ServerProcess, kind: str) -> float:
    page = (await http.get(f"{server.url}/metrics")).text
    found = re.search(rf'^portal_graph_events_heard_total{{kind="{re.escape(kind)}"}} (\S+)$',
                      page, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_a_session_made_on_one_instance_works_on_the_other_until_revoked_there(
    instances: tuple[ServerProcess, ...], make: Factory,
) -> None:
    first, second = instances
    org = await make.organization()
    admin = await make.staff(org, email="admin@instances.example")
    customer = await make.customer(org)
    external = await make.external(org, [customer], email="client@instances.example")
    async with httpx.AsyncClient(timeout=10) as http:
        admin_token = only(await post(http, first, LOGIN, {
            "email": admin["email"], "password": PASSWORD}))["token"]
        client_token = only(await post(http, first, LOGIN, {
            "email": "client@instances.example", "password": PASSWORD}))["token"]
        me = await post(http, second, "{ me { email } }", token=admin_token)
        assert me["data"]["me"]["email"] == "admin@instances.example"
        assert (await post(http, second, "{ me { email } }", token=client_token))["data"]

        only(await post(http, second, REVOKE_ALL, {"user": gid("ExternalUser", external["id"])},
                        token=admin_token))
        response = await http.post(f"{first.url}/graphql", json={"query": "{ me { email } }"},
                                   headers={"Authorization": f"Bearer {client_token}"})
    assert response.status_code == 401  # revoked on the second, refused by the first


async def test_rate_limits_are_counted_across_instances(
    instances: tuple[ServerProcess, ...], make: Factory,
) -> None:
    org = await make.organization()
    await make.staff(org, email="limited@instances.example")
    wrong = {"email": "limited@instances.example", "password": "not the password"}
    outcomes = []
    async with httpx.AsyncClient(timeout=10) as http:
        for attempt in range(LOGIN_LIMIT + 1):
            body = await post(http, instances[attempt % 2], LOGIN, wrong)
            outcomes.append(body["data"]["login"]["userErrors"][0]["code"])
    assert outcomes == ["INVALID_CREDENTIALS"] * LOGIN_LIMIT + ["RATE_LIMITED"]


async def test_an_invitation_on_one_instance_is_emailed_once_and_its_event_heard_by_both(
    instances: tuple[ServerProcess, ...], make: Factory, smtp: SmtpServer,
) -> None:
    first, second = instances
    org = await make.organization()
    admin = await make.staff(org)
    token = await make.session_token(org, admin["person"]["id"])
    customer = await make.customer(org)
    email = "invited@instances.example"
    async with httpx.AsyncClient(timeout=10) as http:
        before = [await events_heard(http, s, "invitation.updated") for s in instances]
        invited = await post(http, first, INVITE, {"input": {
            "email": email, "customerIds": [gid("Customer", customer)]}}, token=token)
        assert only(invited)["userErrors"] == []

        async def heard_everywhere() -> bool:
            now = [await events_heard(http, s, "invitation.updated") for s in instances]
            return all(a > b for a, b in zip(now, before, strict=True))

        for _ in range(100):
            if heard_everywhere_now := await heard_everywhere():
                break
            await asyncio.sleep(0.05)
        assert heard_everywhere_now, "the second instance's hub did not hear the event"
        del second

    for _ in range(100):  # both workers poll every 0.1 s: one of them sends it
        if any(str(m["To"]) == email for m in smtp.messages):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # ten more polls of each worker: nobody sends it again
    assert [str(m["To"]) for m in smtp.messages].count(email) == 1
