"""The accept page and the static files it loads are served under a strict policy."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from portal_graph.web import ACCEPT_PAGE_CSP

STRICT_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
STATIC_FILES = {
    "accept.js": "text/javascript",
    "accept.css": "text/css",
    "reset.js": "text/javascript",
    "forms.js": "text/javascript",
    "graphiql.js": "text/javascript",
    "graphiql.css": "text/css",
}


def test_the_accept_page_policy_is_the_strict_one() -> None:
    assert ACCEPT_PAGE_CSP == STRICT_POLICY


@pytest.mark.parametrize("path", ["/accept/s3cr3t-Token_value", "/accept/"])
def test_accept_page_is_served_with_the_strict_policy_and_security_headers(
    client: TestClient, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == STRICT_POLICY
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_accept_page_is_never_cached_because_its_url_holds_the_token(client: TestClient) -> None:
    response = client.get("/accept/s3cr3t")

    assert response.headers["cache-control"] == "no-store"


def test_accept_page_loads_only_its_own_script_and_stylesheet(
    client: TestClient, parse: Callable
) -> None:
    page = parse(client.get("/accept/s3cr3t").text)

    assert [script.get("src") for script in page.scripts] == ["/static/accept.js"]
    assert page.stylesheets == ["/static/accept.css"]


def test_accept_page_tells_its_script_where_the_api_is(client: TestClient, parse: Callable) -> None:
    page = parse(client.get("/accept/s3cr3t").text)

    assert page.by_id("app")["data-endpoint"] == "/graphql"


def test_accept_page_labels_every_field_and_announces_status_changes(
    client: TestClient, parse: Callable
) -> None:
    page = parse(client.get("/accept/s3cr3t").text)

    labelled = {attrs.get("for") for tag, attrs in page.elements if tag == "label"}
    inputs = {attrs.get("id") for tag, attrs in page.elements if tag == "input"}
    assert inputs == {"email", "name", "password", "confirm"}
    assert inputs <= labelled
    assert page.by_id("status")["aria-live"] == "polite"


def test_accept_page_does_not_echo_the_token(client: TestClient) -> None:
    response = client.get("/accept/probe-marker-4711")

    assert response.status_code == 200
    assert "probe-marker-4711" not in response.text


@pytest.mark.parametrize(("name", "content_type"), STATIC_FILES.items())
def test_static_files_are_served_with_the_strict_policy_and_security_headers(
    client: TestClient, name: str, content_type: str
) -> None:
    response = client.get(f"/static/{name}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert response.headers["content-security-policy"] == STRICT_POLICY
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value


def test_static_files_are_revalidated_with_their_etag(client: TestClient) -> None:
    first = client.get("/static/accept.js")

    again = client.get("/static/accept.js", headers={"If-None-Match": first.headers["etag"]})

    assert first.headers["cache-control"] == "no-cache"
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/static/missing.js", "/static/%2e%2e/routes.py"])
def test_nothing_outside_the_static_folder_is_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("path", ["/reset/pgr_s3cr3t-Token_value", "/reset/"])
def test_the_reset_page_is_served_like_the_accept_page(client: TestClient, parse: Callable,
                                                       path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response.headers["content-security-policy"] == STRICT_POLICY
    assert response.headers["cache-control"] == "no-store"
    assert "pgr_s3cr3t" not in response.text
    page = parse(response.text)
    assert [script.get("src") for script in page.scripts] == ["/static/reset.js"]
    assert page.stylesheets == ["/static/accept.css"]
    labelled = {attrs.get("for") for tag, attrs in page.elements if tag == "label"}
    inputs = {attrs.get("id") for tag, attrs in page.elements if tag == "input"}
    assert inputs == {"email", "password", "confirm"} and inputs <= labelled
