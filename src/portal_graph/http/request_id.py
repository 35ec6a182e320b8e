"""One id per HTTP request: chosen here, returned as `X-Request-Id`, read by everything below.

The middleware is the outermost one, so every response carries the header, refusals made by
the other guards (413, CORS preflights) included. The id lives in the ASGI scope's `state`
(`request.state.request_id` in Starlette), where the GraphQL endpoint puts it into masked
errors and log records, and where observability middleware can bind it for its log filter.

An incoming `X-Request-Id` is kept only from a trusted proxy (TRUST_PROXY_HEADERS) and only
when it looks like an id: anything else a client sends is replaced, so it can neither forge
another request's id nor put arbitrary text into the logs.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal_graph.http.middleware import HttpMiddleware

REQUEST_ID_HEADER = "X-Request-Id"
_HEADER = REQUEST_ID_HEADER.lower().encode()
_ACCEPTABLE = re.compile(rb"[A-Za-z0-9._:-]{8,64}")


def new_request_id() -> str:
    """64 random bits, hex: short enough to read out, unique enough for a log search."""
    return secrets.token_hex(8)


def request_id_of(scope: Scope) -> str | None:
    """The id the middleware chose for this request (None outside it, e.g. in unit tests)."""
    state: dict[str, Any] = scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None


class RequestIdMiddleware(HttpMiddleware):
    def __init__(self, app: ASGIApp, trust_incoming: bool = False) -> None:
        super().__init__(app)
        self.trust_incoming = trust_incoming

    def choose(self, scope: Scope) -> str:
        if self.trust_incoming:
            for name, value in scope.get("headers", ()):
                if name == _HEADER and _ACCEPTABLE.fullmatch(value):
                    return value.decode()
        return new_request_id()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = self.choose(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != _HEADER]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        await self.app(scope, receive, send_with_id)
