"""Abuse of sign-in: attempts are limited per address and per email, across server processes,
and an answer never tells whether an email has an account."""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

import httpx
import pytest

from portal_graph.auth import passwords
from tests.factories import PASSWORD, Factory
from tests.hardening.conftest import PAIR_ENV, AppFactory, api_for
from tests.hardening.processes import ServerProcess

LOGIN = """
mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    token
    userErrors { code field message }
  }
}"""
WRONG = "not the password at all"
RETRY = re.compile(r"^Too many attempts\. Try again in (\d+) seconds\.$")


def outcome(body: dict[str, Any]) -> str:
    login = body["data"]["login"]
    return "OK" if login["token"] else str(login["userErrors"][0]["code"])


def retry_after(body: dict[str, Any]) -> int:
    match = RETRY.match(body["data"]["login"]["userErrors"][0]["message"])
    assert match, body
    return int(match.group(1))


async def test_login_is_limited_per_address(app_with: AppFactory, client_for: Any,
                                            make: Factory) -> None:
    org = await make.organization()
    await make.staff(org, email="known@example.com")
    app = app_with(rate_limit_login_per_address="3/60", rate_limit_login_per_email="100/60")
    attacker = api_for(client_for(app, "198.51.100.1"))
    neighbour = api_for(client_for(app, "198.51.100.2"))

    attempts = [outcome(await attacker(LOGIN, {"email": f"guess{i}@example.com",
                                               "password": WRONG})) for i in range(4)]
    right_password = await attacker(LOGIN, {"email": "known@example.com", "password": PASSWORD})
    other_address = await neighbour(LOGIN, {"email": "known@example.com", "password": PASSWORD})

    assert attempts == ["INVALID_CREDENTIALS"] * 3 + ["RATE_LIMITED"]
    assert outcome(right_password) == "RATE_LIMITED"  # the limit is not lifted by guessing right
    assert 0 < retry_after(right_password) <= 60
    assert right_password["data"]["login"]["userErrors"][0]["field"] is None
    assert outcome(other_address) == "OK"


async def test_login_is_limited_per_email_whatever_the_address(app_with: AppFactory,
                                                               client_for: Any,
                                                               make: Factory) -> None:
    org = await make.organization()
    await make.staff(org, email="target@example.com")
    await make.staff(org, email="bystander@example.com")
    app = app_with(rate_limit_login_per_address="100/60", rate_limit_login_per_email="3/900")

    attempts = []
    for i in range(4):  # a botnet: every attempt from another address
        api = api_for(client_for(app, f"192.0.2.{i + 1}"))
        attempts.append(outcome(await api(LOGIN, {"email": "TARGET@example.com ",
                                                  "password": WRONG})))
    api = api_for(client_for(app, "192.0.2.99"))
    target = await api(LOGIN, {"email": "target@example.com", "password": PASSWORD})
    bystander = await api(LOGIN, {"email": "bystander@example.com", "password": PASSWORD})

    assert attempts == ["INVALID_CREDENTIALS"] * 3 + ["RATE_LIMITED"]
    assert outcome(target) == "RATE_LIMITED"
    assert 0 < retry_after(target) <= 900
    assert outcome(bystander) == "OK"


async def test_an_ipv6_client_is_limited_by_its_slash_64(app_with: AppFactory, client_for: Any,
                                                        make: Factory) -> None:
    app = app_with(rate_limit_login_per_address="2/60", rate_limit_login_per_email="100/60")

    attempts = []
    for suffix in ("1", "2", "ffff:1"):
        api = api_for(client_for(app, f"2001:db8:1:2::{suffix}"))
        attempts.append(outcome(await api(LOGIN, {"email": "x@example.com", "password": WRONG})))

    assert attempts == ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "RATE_LIMITED"]


# --- two processes share one count -----------------------------------------------------------


@pytest.mark.slow
async def test_login_limits_hold_across_two_server_processes(
    server_pair: tuple[ServerProcess, ...], make: Factory
) -> None:
    org = await make.organization()
    await make.staff(org, email="shared@example.com")
    limit = int(PAIR_ENV["RATE_LIMIT_LOGIN_PER_EMAIL"].split("/")[0])
    wrong = {"query": LOGIN, "variables": {"email": "shared@example.com", "password": WRONG}}
    right = {"query": LOGIN, "variables": {"email": "shared@example.com", "password": PASSWORD}}

    seen: list[tuple[int, str]] = []
    async with httpx.AsyncClient(timeout=10) as http:
        for attempt in range(limit + 2):  # alternate: each process alone sees half of them
            server = server_pair[attempt % 2]
            response = await http.post(f"{server.url}/graphql", json=wrong)
            seen.append((server.port, outcome(response.json())))
        after = [outcome((await http.post(f"{s.url}/graphql", json=right)).json())
                 for s in server_pair]

    print(f"\nattempts (port, outcome): {seen}")
    assert [o for _, o in seen] == ["INVALID_CREDENTIALS"] * limit + ["RATE_LIMITED"] * 2
    assert len({port for port, _ in seen[:limit]}) == 2  # both processes counted toward it
    assert after == ["RATE_LIMITED", "RATE_LIMITED"]


# --- no account enumeration ------------------------------------------------------------------


async def test_unknown_and_known_emails_get_the_same_answer_and_the_same_work(
    app_with: AppFactory, client_for: Any, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await make.organization()
    await make.staff(org, email="known@example.com")
    api = api_for(client_for(app_with(rate_limit_login_per_address="1000/60",
                                      rate_limit_login_per_email="1000/60")))
    checked: list[str | None] = []
    real_verify = passwords.verify_password

    async def counting_verify(password_hash: str | None, password: str) -> bool:
        checked.append(password_hash)
        return await real_verify(password_hash, password)

    monkeypatch.setattr("portal_graph.auth.service.verify_password", counting_verify)

    timings: dict[str, list[float]] = {"known email, wrong password": [], "unknown email": []}
    bodies: dict[str, list[str]] = {name: [] for name in timings}
    await api(LOGIN, {"email": "warm@example.com", "password": WRONG})  # warm-up
    checked.clear()
    for _ in range(8):
        for name, email in (("known email, wrong password", "known@example.com"),
                            ("unknown email", "nobody@example.com")):
            started = time.perf_counter()
            await api(LOGIN, {"email": email, "password": WRONG})
            timings[name].append(time.perf_counter() - started)
            assert api.response is not None
            bodies[name].append(api.response.text)

    for name, samples in timings.items():
        print(f"\n{name}: median {statistics.median(samples) * 1000:.1f} ms "
              f"(min {min(samples) * 1000:.1f}, max {max(samples) * 1000:.1f})")
    known, unknown = bodies.values()
    assert set(known) == set(unknown) and len(set(known)) == 1  # byte for byte
    assert len(checked) == 16  # every attempt verified a hash ...
    assert checked.count(None) == 8  # ... the unknown email's against the dummy hash
