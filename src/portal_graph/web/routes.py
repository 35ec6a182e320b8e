"""Routes for the accept and password-reset pages and their static files, and the GraphiQL
page for /graphql.

Pages carry no inline script or style, so each can send a strict Content-Security-Policy;
configuration reaches the scripts through `data-` attributes. The pages are Jinja templates
extending templates/page.html, autoescaped.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from graphql import get_introspection_query
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"

GRAPHQL_ENDPOINT = "/graphql"
INTROSPECTION_QUERY = get_introspection_query(
    descriptions=True, specified_by_url=True, directive_is_repeatable=True
)

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

ACCEPT_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def cdn_base(cdn_url: str) -> str:
    """The CDN base without a trailing slash; an http(s) URL or a path on this server."""
    base = cdn_url.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme in ("http", "https") and parts.netloc:
        return base
    if not parts.scheme and not parts.netloc and base.startswith("/"):
        return base
    raise ValueError(f"GraphiQL CDN URL must be an http(s):// URL or a /path, got {cdn_url!r}")


def _cdn_source(cdn_url: str) -> str:
    """The CSP source allowing the CDN: its origin, or 'self' for a mirror on this server."""
    parts = urlsplit(cdn_base(cdn_url))
    if not parts.netloc:
        return "'self'"
    return f"{parts.scheme}://{parts.netloc}"


def graphiql_csp(cdn_url: str) -> str:
    """GraphiQL's policy: React and GraphiQL from the CDN; queries only to this server.

    Its stylesheet embeds fonts as data: URLs, hence font-src data:.
    """
    cdn = _cdn_source(cdn_url)
    sources = " ".join(dict.fromkeys(["'self'", cdn]))
    return (
        f"default-src 'none'; script-src {sources}; style-src {sources}; "
        f"font-src {sources} data:; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def _headers(csp: str, cache_control: str) -> dict[str, str]:
    return {"Content-Security-Policy": csp, "Cache-Control": cache_control, **SECURITY_HEADERS}


_TEMPLATES = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@cache
def _portal_page_html(name: str) -> str:
    return _TEMPLATES.get_template(name).render(endpoint=GRAPHQL_ENDPOINT)


@lru_cache(maxsize=8)
def _graphiql_html(cdn_url: str, endpoint: str) -> str:
    return _TEMPLATES.get_template("graphiql.html").render(cdn=cdn_base(cdn_url),
                                                           endpoint=endpoint)


async def accept_page(request: Request) -> HTMLResponse:
    """The invitation page. The token stays in the URL: the script reads it from there."""
    # The URL holds a secret: never cache the page anywhere.
    return HTMLResponse(_portal_page_html("accept.html"),
                        headers=_headers(ACCEPT_PAGE_CSP, "no-store"))


async def reset_page(request: Request) -> HTMLResponse:
    """The password-reset page: asks for an email (at /reset/), or sets a new password with
    the emailed link's token (at /reset/<token>), which, like an invite link's, stays in the
    URL for the script and is never cached."""
    return HTMLResponse(_portal_page_html("reset.html"),
                        headers=_headers(ACCEPT_PAGE_CSP, "no-store"))


def graphiql_response(cdn_url: str, endpoint: str = GRAPHQL_ENDPOINT) -> HTMLResponse:
    """GraphiQL, for the GraphQL endpoint to return on a browser's GET of /graphql."""
    body = _graphiql_html(cdn_url, endpoint)
    return HTMLResponse(body, headers=_headers(graphiql_csp(cdn_url), "no-cache"))


async def introspection_document(request: Request) -> PlainTextResponse:
    """The introspection query graphiql.js sends when a new session needs a new schema:
    graphql-core's standard one, so it always asks for what this graphql-core can answer."""
    return PlainTextResponse(INTROSPECTION_QUERY, headers=_headers(ACCEPT_PAGE_CSP, "no-cache"))


class _StaticAssets(StaticFiles):
    """Static files with the same strict headers as the pages that load them."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        # File names carry no content hash, so browsers revalidate (ETag) every time.
        response.headers.update(_headers(ACCEPT_PAGE_CSP, "no-cache"))
        return response


def web_routes(graphiql_cdn_url: str) -> list[BaseRoute]:
    """The browser routes. The CDN URL is checked here, so a bad value stops start-up."""
    cdn_base(graphiql_cdn_url)
    return [
        Route("/accept/{token}", accept_page),
        Route("/accept/", accept_page),
        Route("/reset/{token}", reset_page),
        Route("/reset/", reset_page),
        # Served like a static file, though graphql-core writes it.
        Route("/static/introspection.graphql", introspection_document),
        Mount("/static", app=_StaticAssets(directory=STATIC_DIR), name="static"),
    ]
