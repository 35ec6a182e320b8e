"""HTTP guards: body size (declared and streamed), security headers, CORS settings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from portal_graph.http.guards import (
    DEFAULT_CSP,
    BodySizeLimit,
    SecurityHeaders,
    cors_middleware_kwargs,
)

MAX_BYTES = 1000
TOO_LARGE = {
    "errors": [{"message": "Request body too large", "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]
}


async def echo_length(request: Request) -> Response:
    return JSONResponse({"received": len(await request.body())})


async def api(request: Request) -> Response:
    return JSONResponse({"data": None})


async def page(request: Request) -> Response:
    return HTMLResponse("<p>hello</p>")


async def framed(request: Request) -> Response:
    return HTMLResponse("<p>own policy</p>", headers={"X-Frame-Options": "SAMEORIGIN"})


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def guarded_app() -> Starlette:
    return Starlette(
        routes=[Route("/graphql", echo_length, methods=["POST"])],
        middleware=[Middleware(BodySizeLimit, max_bytes=MAX_BYTES)],
    )


async def chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


# --- body size ------------------------------------------------------------------------------


async def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    async with client(guarded_app()) as http:
        response = await http.post("/graphql", content=b"x" * MAX_BYTES)

    assert response.status_code == 200
    assert response.json() == {"received": MAX_BYTES}


async def test_a_chunked_body_within_the_limit_reaches_the_app_whole() -> None:
    async with client(guarded_app()) as http:
        response = await http.post("/graphql", content=chunks(4, 250))

    assert response.status_code == 200
    assert response.json() == {"received": 1000}


async def test_a_declared_content_length_over_the_limit_is_refused_with_413() -> None:
    async with client(guarded_app()) as http:
        response = await http.post("/graphql", content=b"x" * (MAX_BYTES + 1))

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json() == TOO_LARGE


async def test_a_chunked_body_over_the_limit_is_refused_with_413() -> None:
    async with client(guarded_app()) as http:
        response = await http.post("/graphql", content=chunks(10, 300))

    assert response.status_code == 413
    assert response.json() == TOO_LARGE


async def test_a_declared_length_over_the_limit_is_refused_before_reading_the_body() -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body must not be read")

    async def send(message: Message) -> None:
        sent.append(message)

    guard = BodySizeLimit(unreachable_app, max_bytes=MAX_BYTES)
    await guard(http_scope(content_length=10_000_000), receive, send)

    assert sent[0]["status"] == 413
    assert orjson.loads(sent[1]["body"]) == TOO_LARGE


async def test_a_streamed_body_is_read_no_further_than_the_chunk_that_passes_the_limit() -> None:
    reads = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 400, "more_body": True}  # endless

    async def send(message: Message) -> None:
        sent.append(message)

    guard = BodySizeLimit(unreachable_app, max_bytes=MAX_BYTES)
    await guard(http_scope(content_length=None), receive, send)

    assert reads == 3  # 400, 800, 1200: refused at the first chunk past 1000
    assert sent[0]["status"] == 413


async def unreachable_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("the app must not be called")


def http_scope(content_length: int | None) -> Scope:
    headers = [(b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    return {"type": "http", "method": "POST", "path": "/graphql", "headers": headers}


# --- security headers -----------------------------------------------------------------------


def headers_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/graphql", api),
            Route("/login", page),
            Route("/accept/{token}", page),
            Route("/framed", framed),
        ],
        middleware=[
            Middleware(
                SecurityHeaders,
                csp_by_path={
                    "/login": "default-src 'self'",
                    "/accept/": "default-src 'self'; form-action 'self'",
                },
            )
        ],
    )


async def test_api_responses_get_the_hardening_headers_and_the_default_csp() -> None:
    async with client(headers_app()) as http:
        response = await http.get("/graphql")

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == DEFAULT_CSP


async def test_an_html_page_gets_its_own_csp() -> None:
    async with client(headers_app()) as http:
        response = await http.get("/login")

    assert response.headers["content-security-policy"] == "default-src 'self'"


async def test_a_csp_key_ending_in_a_slash_covers_the_paths_below_it() -> None:
    async with client(headers_app()) as http:
        response = await http.get("/accept/some-token")

    assert response.headers["content-security-policy"] == "default-src 'self'; form-action 'self'"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_a_header_the_app_sets_itself_is_kept() -> None:
    async with client(headers_app()) as http:
        response = await http.get("/framed")

    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]


# --- CORS -----------------------------------------------------------------------------------


def cors_app(origins: list[str]) -> Starlette:
    return Starlette(
        routes=[Route("/graphql", api, methods=["GET", "POST"])],
        middleware=[Middleware(CORSMiddleware, **cors_middleware_kwargs(origins))],
    )


PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def test_cors_allows_a_listed_origin_with_post_and_the_auth_headers() -> None:
    async with client(cors_app(["https://portal.example.com"])) as http:
        response = await http.options(
            "/graphql", headers={"Origin": "https://portal.example.com", **PREFLIGHT}
        )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://portal.example.com"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


async def test_an_empty_origin_list_allows_no_cross_origin_call() -> None:
    async with client(cors_app([])) as http:
        preflight = await http.options(
            "/graphql", headers={"Origin": "https://evil.example", **PREFLIGHT}
        )
        simple = await http.get("/graphql", headers={"Origin": "https://evil.example"})

    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize("origin", ["*", "https://portal.example.com/", "portal.example.com"])
def test_a_cors_origin_that_is_not_exact_is_refused_at_start_up(origin: str) -> None:
    with pytest.raises(ValueError, match="CORS origin"):
        cors_middleware_kwargs([origin])
