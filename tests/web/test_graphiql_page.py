"""GraphiQL loads from a configurable CDN and may talk only to this server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from graphql import get_introspection_query
from starlette.testclient import TestClient

from portal_graph.web import graphiql_csp, graphiql_response, web_routes


def _html(cdn_url: str) -> str:
    return bytes(graphiql_response(cdn_url).body).decode()


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (directive.split() for directive in policy.split(";"))
    return {words[0]: words[1:] for words in parts if words}


def test_graphiql_page_loads_react_and_graphiql_from_the_configured_cdn(
    client: TestClient, parse: Callable, cdn_url: str
) -> None:
    page = parse(client.get("/graphql", headers={"Accept": "text/html"}).text)

    assert [script.get("src") for script in page.scripts] == [
        f"{cdn_url}/react@18/umd/react.production.min.js",
        f"{cdn_url}/react-dom@18/umd/react-dom.production.min.js",
        f"{cdn_url}/graphiql@3/graphiql.min.js",
        "/static/graphiql.js",
    ]
    assert page.stylesheets == [f"{cdn_url}/graphiql@3/graphiql.min.css", "/static/graphiql.css"]


def test_graphiql_defaults_to_unpkg(parse: Callable) -> None:
    page = parse(_html("https://unpkg.com"))

    assert page.scripts[2]["src"] == "https://unpkg.com/graphiql@3/graphiql.min.js"


def test_a_trailing_slash_on_the_cdn_url_makes_no_double_slash(parse: Callable) -> None:
    page = parse(_html("https://unpkg.com/"))

    assert page.scripts[0]["src"] == "https://unpkg.com/react@18/umd/react.production.min.js"


def test_graphiql_page_carries_its_settings_in_data_attributes(
    client: TestClient, parse: Callable, cdn_url: str
) -> None:
    page = parse(client.get("/graphql").text)

    assert page.by_id("graphiql")["data-endpoint"] == "/graphql"
    assert page.by_id("graphiql")["data-cdn"] == cdn_url


def test_graphiql_policy_allows_the_cdn_for_code_and_only_this_server_for_queries(
    client: TestClient,
) -> None:
    response = client.get("/graphql")

    directives = _directives(response.headers["content-security-policy"])
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'", "https://mirror.example.org"]
    assert directives["style-src"] == ["'self'", "https://mirror.example.org"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert "'unsafe-eval'" not in response.headers["content-security-policy"]


def test_graphiql_page_sends_the_security_headers(client: TestClient) -> None:
    response = client.get("/graphql")

    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


def test_a_mirror_on_this_server_needs_no_other_origin(parse: Callable) -> None:
    response = graphiql_response("/vendor")

    assert _directives(graphiql_csp("/vendor"))["script-src"] == ["'self'"]
    assert response.headers["content-security-policy"] == graphiql_csp("/vendor")
    assert parse(_html("/vendor")).scripts[0]["src"] == (
        "/vendor/react@18/umd/react.production.min.js"
    )


def test_the_cdn_url_is_html_escaped(parse: Callable) -> None:
    body = _html('https://cdn.example/x"><b>bold')

    assert "<b>" not in body
    assert parse(body).scripts[0]["src"] == (
        'https://cdn.example/x"><b>bold/react@18/umd/react.production.min.js'
    )


@pytest.mark.parametrize(
    "bad_url", ["cdn.example.org", "javascript:alert(1)", "//cdn.example.org", "ftp://cdn.example"]
)
def test_a_cdn_url_that_is_not_http_or_a_path_stops_start_up(bad_url: str) -> None:
    with pytest.raises(ValueError, match="GraphiQL CDN URL"):
        web_routes(bad_url)


def test_the_introspection_document_graphiql_fetches_is_graphql_cores(client: TestClient) -> None:
    response = client.get("/static/introspection.graphql")

    assert response.status_code == 200
    assert response.text == get_introspection_query(
        descriptions=True, specified_by_url=True, directive_is_repeatable=True
    )
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
