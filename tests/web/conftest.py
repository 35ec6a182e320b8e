"""A tiny app made only of the web routes, and a parser that lists what a page loads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from portal_graph.web import graphiql_response, web_routes

MIRROR = "https://mirror.example.org/npm"


@dataclass
class Page:
    """The parts of an HTML page that matter to its Content-Security-Policy."""

    scripts: list[dict[str, str | None]] = field(default_factory=list)
    script_bodies: list[str] = field(default_factory=list)
    stylesheets: list[str | None] = field(default_factory=list)
    style_elements: int = 0
    inline_attributes: list[str] = field(default_factory=list)
    elements: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)

    def by_id(self, element_id: str) -> dict[str, str | None]:
        return next(attrs for _, attrs in self.elements if attrs.get("id") == element_id)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.page.elements.append((tag, attributes))
        self.page.inline_attributes += [
            name for name in attributes if name == "style" or name.startswith("on")
        ]
        if tag == "script":
            self.page.scripts.append(attributes)
            self.page.script_bodies.append("")
            self._in_script = True
        elif tag == "style":
            self.page.style_elements += 1
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.page.stylesheets.append(attributes.get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.page.script_bodies[-1] += data


def parse_page(text: str) -> Page:
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    return parser.page


@pytest.fixture
def parse() -> Callable[[str], Page]:
    return parse_page


def make_app(cdn_url: str) -> Starlette:
    async def graphql_in_browser(request: Request) -> HTMLResponse:
        return graphiql_response(cdn_url)

    return Starlette(routes=[*web_routes(cdn_url), Route("/graphql", graphql_in_browser)])


@pytest.fixture
def cdn_url() -> str:
    return MIRROR


@pytest.fixture
def client(cdn_url: str) -> Iterator[TestClient]:
    with TestClient(make_app(cdn_url)) as test_client:
        yield test_client
