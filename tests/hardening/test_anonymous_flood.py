"""Issue 17's flood, through the real endpoint: the 244-selection anonymous document is refused
before validation, anonymous requests are rate-limited per address (shared through
PostgreSQL, answered RATE_LIMITED with when to retry), and a batch shares one cost budget.
What each refused document costs is counted in tests/graphql/test_anonymous_budgets.py; what
the flood does to a signed-in request is measured by bench/flood.py."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

from tests.conftest import Api, without_cost
from tests.hardening.conftest import AppFactory, World, api_for

ISSUE_17 = "{me{" + " ".join(["organization{name}"] * 244) + "}}"
JOBS_PAGE = "{ jobs(first: 100) { edges { node { id } } } }"  # cost 1 + 3 x 100 = 301


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def test_the_244_selection_document_is_refused_before_validation(api: Api) -> None:
    for _ in range(3):  # each made unique, as in the attack
        body = await api(f"{ISSUE_17} #{secrets.token_hex(8)}")

        assert codes(body) == ["QUERY_TOO_LARGE"]
        assert "data" not in body


async def test_its_variants_within_the_token_budget_are_refused_too(api: Api) -> None:
    variants = {
        "{me{" + " ".join(["organization{name}"] * 90) + "}}": "TOO_MANY_REPEATED_FIELDS",
        "{" + " ".join(["__typename"] * 300) + "}": "TOO_MANY_REPEATED_FIELDS",
        "{me{" + " ".join(["...F"] * 50) + "}} fragment F on Viewer{organization{name}}":
            "TOO_MANY_REPEATED_FIELDS",
        "{me{" + " ".join(f"a{i}:organization{{name}}" for i in range(25))
        + " id email name audience role customerIds organization{name} memberships{role}}}":
            "TOO_MANY_SELECTIONS",
    }
    for document, code in variants.items():
        assert codes(await api(f"{document} #{secrets.token_hex(8)}")) == [code], document


async def test_anonymous_requests_are_rate_limited_per_address(
        app_with: AppFactory, client_for: Any, world: World) -> None:
    app = app_with(rate_limit_anonymous_per_address="3/60")
    flooder = client_for(app, "198.51.100.7")
    neighbour = api_for(client_for(app, "198.51.100.8"))
    signed_in = api_for(client_for(app, "198.51.100.7"))

    answered = [(await flooder.post("/graphql", json={"query": "{ __typename }"})).status_code
                for _ in range(3)]
    refused = await flooder.post("/graphql", json={"query": "{ __typename }"})

    assert answered == [200, 200, 200]
    assert refused.status_code == 429
    body = refused.json()
    assert codes(body) == ["RATE_LIMITED"] and "data" not in body
    retry = body["errors"][0]["extensions"]["retryAfter"]
    assert 1 <= retry <= 60 and refused.headers["Retry-After"] == str(retry)
    assert body["errors"][0]["message"] == f"Too many requests. Try again in {retry} seconds."
    # Another address is counted apart; a signed-in caller is not counted at all.
    assert without_cost(await neighbour("{ __typename }")) == {"data": {"__typename": "Query"}}
    assert "errors" not in await signed_in("{ me { email } }", token=world.admin_token)


async def test_each_operation_of_an_anonymous_batch_counts(app_with: AppFactory,
                                                           client_for: Any) -> None:
    client = client_for(app_with(rate_limit_anonymous_per_address="3/60"), "198.51.100.9")

    batch = await client.post("/graphql", json=[{"query": "{ __typename }"}] * 3)
    next_one = await client.post("/graphql", json={"query": "{ __typename }"})

    assert batch.status_code == 200
    assert next_one.status_code == 429


async def test_a_batch_shares_one_cost_budget(runtime: Any, client_for: Any,
                                              world: World) -> None:
    from portal_graph.app import create_app

    settings = runtime.settings.model_copy(update={"query_max_cost": 1000})
    tuned = dataclasses.replace(runtime, settings=settings)  # the app's executor reads them
    client = client_for(create_app(settings, tuned))
    headers = {"Authorization": f"Bearer {world.admin_token}"}

    alone = await client.post("/graphql", json={"query": JOBS_PAGE}, headers=headers)
    batch = await client.post("/graphql", json=[{"query": JOBS_PAGE}] * 4, headers=headers)

    assert "errors" not in alone.json()
    answers = batch.json()
    # 301 + 301 + 301 fit in 1,000; the fourth would take the batch to 1,204.
    assert [codes(answer) for answer in answers] == [[], [], [], ["QUERY_TOO_COSTLY"]]
    assert "data" not in answers[3]
