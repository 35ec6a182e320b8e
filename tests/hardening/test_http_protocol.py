"""GraphQL over HTTP at the edge: methods, media types, body size, CORS and browser headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from portal_graph.config import Settings
from tests.conftest import Api, without_cost
from tests.hardening.conftest import AppFactory, World

TYPENAME = {"query": "{ __typename }"}
LOGOUT = "mutation { logout { ended } }"
ME = "{ me { email } }"


def code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


# --- methods -------------------------------------------------------------------------------


async def test_a_query_is_answered_over_post_and_get(client: httpx.AsyncClient) -> None:
    posted = await client.post("/graphql", json=TYPENAME)
    got = await client.get("/graphql", params=TYPENAME)

    assert posted.status_code == got.status_code == 200
    assert (without_cost(posted.json()) == without_cost(got.json())
            == {"data": {"__typename": "Query"}})
    assert posted.headers["content-type"] == "application/json"


async def test_the_graphql_response_media_type_is_used_when_asked_for(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/graphql", json=TYPENAME,
                                 headers={"Accept": "application/graphql-response+json"})

    assert response.headers["content-type"] == "application/graphql-response+json"


async def test_a_mutation_over_get_is_refused_with_405_and_not_run(client: httpx.AsyncClient,
                                                                   api: Api,
                                                                   world: World) -> None:
    response = await client.get("/graphql", params={"query": LOGOUT},
                                headers={"Authorization": f"Bearer {world.admin_token}"})

    assert response.status_code == 405
    assert code(response) == "METHOD_NOT_ALLOWED"
    assert (await api(ME, token=world.admin_token))["data"]["me"] is not None  # still signed in


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_are_refused_with_405(client: httpx.AsyncClient,
                                                  method: str) -> None:
    response = await client.request(method, "/graphql", json=TYPENAME)

    assert response.status_code == 405


# --- media types and bodies ----------------------------------------------------------------


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
])
async def test_a_post_that_is_not_json_is_refused_with_415(client: httpx.AsyncClient,
                                                           content_type: str) -> None:
    # text/plain and form posts are what a cross-site <form> can send without a preflight.
    response = await client.post("/graphql", content=b'{"query": "{ __typename }"}',
                                 headers={"Content-Type": content_type})

    assert response.status_code == 415
    assert code(response) == "UNSUPPORTED_MEDIA_TYPE"


async def test_malformed_json_is_refused_with_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", content=b'{"query": ',
                                 headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert code(response) == "MALFORMED_JSON"


async def test_a_body_over_the_limit_is_refused_with_413(client: httpx.AsyncClient,
                                                         settings: Settings) -> None:
    padding = "#" * settings.max_body_bytes
    response = await client.post("/graphql", json={"query": "{ __typename }" + padding})

    assert response.status_code == 413
    assert code(response) == "PAYLOAD_TOO_LARGE"


async def test_a_streamed_body_over_the_limit_is_refused_with_413(client: httpx.AsyncClient,
                                                                  settings: Settings) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for _ in range(settings.max_body_bytes // 65_536 + 2):
            yield b" " * 65_536

    response = await client.post("/graphql", content=chunks(),
                                 headers={"Content-Type": "application/json"})

    assert response.status_code == 413


# --- CORS ------------------------------------------------------------------------------------

PORTAL = "https://portal.example.com"
PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


@pytest.fixture
def cors_client(app_with: AppFactory, client_for: Any) -> httpx.AsyncClient:
    return client_for(app_with(cors_allow_origins=[PORTAL]))  # type: ignore[no-any-return]


async def test_a_configured_origin_gets_cors_headers(cors_client: httpx.AsyncClient) -> None:
    preflight = await cors_client.options("/graphql", headers={"Origin": PORTAL, **PREFLIGHT})
    simple = await cors_client.post("/graphql", json=TYPENAME, headers={"Origin": PORTAL})

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == PORTAL
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers
    assert simple.headers["access-control-allow-origin"] == PORTAL
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize("origin", ["https://evil.example.net", "https://portal.example.com.evil",
                                    "http://portal.example.com", "null"])
async def test_other_origins_get_no_cors_headers(cors_client: httpx.AsyncClient,
                                                 origin: str) -> None:
    preflight = await cors_client.options("/graphql", headers={"Origin": origin, **PREFLIGHT})
    simple = await cors_client.post("/graphql", json=TYPENAME, headers={"Origin": origin})

    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


async def test_without_configured_origins_no_origin_gets_cors_headers(
    client: httpx.AsyncClient,
) -> None:
    simple = await client.post("/graphql", json=TYPENAME, headers={"Origin": PORTAL})

    assert "access-control-allow-origin" not in simple.headers


async def test_a_refused_body_still_carries_cors_headers(cors_client: httpx.AsyncClient,
                                                         settings: Settings) -> None:
    response = await cors_client.post("/graphql", content=b"x" * (settings.max_body_bytes + 1),
                                      headers={"Origin": PORTAL,
                                               "Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.headers["access-control-allow-origin"] == PORTAL  # readable by the app


# --- browser-facing headers ------------------------------------------------------------------


def assert_hardened(response: httpx.Response) -> str:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    return csp


async def test_graphiql_is_served_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = assert_hardened(response)
    assert "connect-src 'self'" in csp  # queries go to this server only


async def test_the_accept_page_is_served_with_a_strict_policy_and_never_cached(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/accept/a-secret-invitation-token")

    assert response.status_code == 200
    csp = assert_hardened(response)
    assert "script-src 'self'" in csp
    assert response.headers["cache-control"] == "no-store"
    assert "a-secret-invitation-token" not in response.text  # the script reads it from the URL


async def test_api_responses_may_load_nothing(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json=TYPENAME)

    assert assert_hardened(response).startswith("default-src 'none'")
