"""Schemathesis, in GraphQL mode, against a real server process, as an admin.

The schema comes from the server's own introspection for the admin audience (so every field
an admin may call is fuzzed, and nothing the server would refuse at validation). Each
operation gets a few generated queries and mutations; the budget is bounded in examples and
in time. What must hold: no 5xx, every error carries a code, none is an unexpected
(INTERNAL_SERVER_ERROR) one, and nothing internal shows.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.hardening.conftest import World
from tests.hardening.processes import ServerProcess

EXAMPLES = 124  # spread over the operations (4 each)
SECONDS = 45  # and stop generating after this long, whatever is left
INTERNALS = ("Traceback", "asyncpg", "sqlalchemy", 'File "', "Exception")


@dataclass
class Findings:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def check(self, label: str, query: str, response: Any) -> None:
        self.requests += 1
        self.statuses[response.status_code] += 1
        where = f"{label}: {query!r} -> {response.status_code} {response.text[:300]}"
        if response.status_code >= 500:
            self.problems.append(f"5xx {where}")
            return
        if any(word in response.text for word in INTERNALS):
            self.problems.append(f"internals {where}")
        try:
            body = response.json()
        except ValueError:
            self.problems.append(f"not JSON {where}")
            return
        for error in body.get("errors", []) if isinstance(body, dict) else []:
            code = (error.get("extensions") or {}).get("code")
            self.codes[str(code)] += 1
            if code is None or code == "INTERNAL_SERVER_ERROR":
                self.problems.append(f"{code} {where}")


def fuzz(schema: Any, base_url: str, headers: dict[str, str], findings: Findings) -> int:
    """Runs in a thread (schemathesis calls with `requests`); returns operations fuzzed."""
    operations = [result.ok() for result in schema.get_all_operations()]
    per_operation = max(3, EXAMPLES // len(operations))
    deadline = time.monotonic() + SECONDS
    for operation in operations:
        if time.monotonic() > deadline:
            break
        fuzz_one(operation, per_operation, deadline, base_url, headers, findings)
    return len(operations)


def fuzz_one(operation: Any, examples: int, deadline: float, base_url: str,
             headers: dict[str, str], findings: Findings) -> None:
    @given(operation.as_strategy())
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        if time.monotonic() > deadline:
            return
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        findings.check(operation.label, case.body, response)

    run()


@pytest.mark.slow
async def test_fuzzed_queries_and_mutations_get_no_server_errors(server: ServerProcess,
                                                                 world: World) -> None:
    # An API token, not a session: a fuzzed `logout` must not sign the fuzzer out.
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(f"{server.url}/graphql", json={
            "query": 'mutation { createApiToken(input: {name: "fuzz"}) { token } }'},
            headers={"Authorization": f"Bearer {world.admin_token}"})
    headers = {"Authorization": f"Bearer {created.json()['data']['createApiToken']['token']}"}
    schema = await asyncio.to_thread(schemathesis.graphql.from_url, f"{server.url}/graphql",
                                     headers=headers)
    findings = Findings()

    started = time.monotonic()
    operations = await asyncio.to_thread(fuzz, schema, f"{server.url}/graphql", headers,
                                         findings)
    elapsed = time.monotonic() - started

    print(f"\nfuzzed {operations} operations with {findings.requests} requests in "
          f"{elapsed:.1f} s; statuses {dict(findings.statuses)}; "
          f"error codes {dict(findings.codes.most_common(8))}")
    for problem in findings.problems:
        print(problem)
    assert findings.requests >= 60
    assert findings.problems == []
