"""Unexpected failures: the client gets a code and a request id, the log gets the exception.

Every response carries `X-Request-Id`; a masked error quotes the same id in
`extensions.requestId`, and the log record of the failure carries it as `request_id`.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from portal_graph.observability import RequestContextFilter
from tests.conftest import Api, without_cost
from tests.hardening.conftest import AppFactory, World

ME = "{ me { email } }"
SECRET_WORDS = ("boom", "SELECT", "password_hash", "Traceback", "RuntimeError", "ValueError",
                'File "')


def leaks(text: str) -> list[str]:
    return [word for word in SECRET_WORDS if word in text]


@pytest.fixture
def failing_viewer(monkeypatch: pytest.MonkeyPatch) -> None:
    async def build_viewer(session: Any, viewer: Any) -> None:
        logging.getLogger("portal_graph.accounts").warning("about to fail")
        raise RuntimeError("boom: SELECT password_hash FROM persons WHERE id = 42")

    monkeypatch.setattr("portal_graph.accounts.queries.build_viewer", build_viewer)


@pytest.fixture
def request_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog, with the filter the server's log handler has: records get their request id."""
    stamp = RequestContextFilter()
    caplog.handler.addFilter(stamp)
    caplog.set_level(logging.INFO)
    return caplog


@pytest.mark.usefixtures("failing_viewer")
async def test_a_resolver_error_is_masked_and_logged_with_the_request_id(
    api: Api, world: World, request_log: pytest.LogCaptureFixture
) -> None:
    body = await api(ME, token=world.admin_token)

    assert api.response is not None
    request_id = api.response.headers["x-request-id"]
    assert api.response.status_code == 200
    assert without_cost(body) == {"data": {"me": None}, "errors": [{
        "message": "Internal server error", "path": ["me"],
        "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}}]}
    assert leaks(api.response.text) == []
    failure = next(r for r in request_log.records if r.levelno == logging.ERROR)
    assert failure.request_id == request_id  # type: ignore[attr-defined]
    assert failure.exc_info is not None
    assert isinstance(failure.exc_info[1], RuntimeError)
    assert "boom: SELECT password_hash" in request_log.text  # the full exception, logged


@pytest.mark.usefixtures("failing_viewer")
async def test_every_log_line_of_the_request_carries_its_id(
    api: Api, world: World, request_log: pytest.LogCaptureFixture
) -> None:
    await api(ME, token=world.admin_token)

    assert api.response is not None
    request_id = api.response.headers["x-request-id"]
    warning = next(r for r in request_log.records if r.getMessage() == "about to fail")
    assert warning.request_id == request_id  # type: ignore[attr-defined]


async def test_a_failure_outside_execution_is_a_masked_500(
    api: Api, monkeypatch: pytest.MonkeyPatch, request_log: pytest.LogCaptureFixture
) -> None:
    async def resolve_viewer(*args: Any) -> None:
        raise ValueError("boom: password_hash mismatch in SELECT")

    monkeypatch.setattr("portal_graph.graphql.endpoint.resolve_viewer", resolve_viewer)

    body = await api(ME)

    assert api.response is not None
    request_id = api.response.headers["x-request-id"]
    assert api.response.status_code == 500
    assert body == {"errors": [{"message": "Internal server error", "extensions": {
        "code": "INTERNAL_SERVER_ERROR", "requestId": request_id}}]}
    assert leaks(api.response.text) == []
    failure = next(r for r in request_log.records if r.levelno == logging.ERROR)
    assert failure.request_id == request_id  # type: ignore[attr-defined]
    assert isinstance(failure.exc_info[1], ValueError)  # type: ignore[index]


async def test_expected_errors_are_not_masked(api: Api) -> None:
    body = await api("{ customers { totalCount } }")

    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "requestId" not in body["errors"][0]["extensions"]


@pytest.mark.parametrize("method, path, kwargs", [
    ("POST", "/graphql", {"json": {"query": "{ __typename }"}}),
    ("GET", "/graphql?query=%7B__typename%7D", {}),
    ("GET", "/graphql", {"headers": {"Accept": "text/html"}}),
    ("POST", "/graphql", {"content": b"x", "headers": {"Content-Type": "text/plain"}}),
    ("POST", "/graphql", {"content": b"x" * 1_000_001,
                          "headers": {"Content-Type": "application/json"}}),
    ("GET", "/healthz", {}),
    ("GET", "/accept/some-token", {}),
    ("GET", "/no-such-page", {}),
])
async def test_every_response_carries_a_request_id(client: httpx.AsyncClient, method: str,
                                                   path: str, kwargs: dict[str, Any]) -> None:
    first = await client.request(method, path, **kwargs)
    second = await client.request(method, path, **kwargs)

    ids = [first.headers.get("x-request-id"), second.headers.get("x-request-id")]
    assert all(ids) and ids[0] != ids[1]
    assert all(len(i) == 16 for i in ids)  # type: ignore[arg-type]


async def test_a_client_cannot_choose_its_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "chosen-by-client-123"})

    assert response.headers["x-request-id"] != "chosen-by-client-123"


@pytest.mark.parametrize("incoming, kept", [
    ("proxy-assigned-id-0001", True),
    ("short", False),
    ("bad id with spaces\nand a newline", False),
    ("x" * 65, False),
])
async def test_behind_a_trusted_proxy_a_well_formed_request_id_is_kept(
    app_with: AppFactory, client_for: Any, incoming: str, kept: bool
) -> None:
    client = client_for(app_with(trust_proxy_headers=True))

    response = await client.get("/healthz", headers={"X-Request-Id": incoming})

    assert (response.headers["x-request-id"] == incoming) is kept
