"""Pure ASGI guards in front of every route: body size, security headers, CORS settings.

Pure ASGI (not Starlette's BaseHTTPMiddleware) so the body limit sees each chunk as it
arrives and nothing is buffered beyond the limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal_graph.http.graphql_http import HttpErrorCode, error_body
from portal_graph.http.middleware import HttpMiddleware

DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"

_TOO_LARGE_BODY = error_body("Request body too large", HttpErrorCode.PAYLOAD_TOO_LARGE)


class BodySizeLimit(HttpMiddleware):
    """Answers 413 once a request body passes `max_bytes`, whether declared or streamed.

    A declared Content-Length over the limit is refused before any byte is read. Otherwise
    the body is read here, chunk by chunk, and refused as soon as the running total passes
    the limit; a body within it is handed to the app in one message. Every route here reads
    whole bodies, so reading ahead costs nothing and cannot be bypassed by an app that
    ignores a limit signalled some other way.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left; there is no one to answer
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break

        body_message: Message | None = {
            "type": "http.request", "body": b"".join(chunks), "more_body": False
        }

        async def replay() -> Message:
            nonlocal body_message
            if body_message is not None:
                message, body_message = body_message, None
                return message
            return await receive()  # afterwards: http.disconnect, for streaming responses

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects these; if not, the running count still holds
    return None


async def _send_too_large(send: Send) -> None:
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_TOO_LARGE_BODY)).encode()),
            # The rest of the body is left unread, so the connection cannot be reused.
            (b"connection", b"close"),
        ],
    })
    await send({"type": "http.response.body", "body": _TOO_LARGE_BODY})


class SecurityHeaders(HttpMiddleware):
    """Adds browser hardening headers to every response that does not set its own.

    `csp_by_path` gives HTML pages their Content-Security-Policy: a key matches its exact
    path, or, when it ends with "/", every path below it (longest key wins). Everything
    else, the API above all, gets `DEFAULT_CSP`, which lets a response load nothing.
    """

    def __init__(self, app: ASGIApp, csp_by_path: Mapping[str, str] | None = None) -> None:
        super().__init__(app)
        self.exact = dict(csp_by_path or {})
        self.prefixes = sorted(
            ((path, csp) for path, csp in self.exact.items() if path.endswith("/")),
            key=lambda item: len(item[0]),
            reverse=True,
        )

    def csp_for(self, path: str) -> str:
        if path in self.exact:
            return self.exact[path]
        for prefix, csp in self.prefixes:
            if path.startswith(prefix):
                return csp
        return DEFAULT_CSP

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        added = (
            (b"x-content-type-options", b"nosniff"),
            # Invitation links carry a token in the URL: never let it leave in a Referer.
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", self.csp_for(scope["path"]).encode()),
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in added if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cors_middleware_kwargs(allow_origins: list[str]) -> dict[str, Any]:
    """Keyword arguments for Starlette's `CORSMiddleware`; an empty list allows no origin.

    No credentials: the API authenticates with an Authorization header, which a browser
    never adds on its own, so a foreign page cannot ride a user's session. Origins must be
    exact (`https://portal.example.com`): a wildcard would hand the API to any page.
    """
    for origin in allow_origins:
        parts = urlsplit(origin)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or origin != f"{parts.scheme}://{parts.netloc}"
        ):
            raise ValueError(f"CORS origin must look like https://host[:port], got {origin!r}")
    return {
        "allow_origins": list(allow_origins),
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["Authorization", "Content-Type"],
        "allow_credentials": False,
        "expose_headers": ["X-Request-Id"],  # so a browser app can quote it in a bug report
        "max_age": 600,
    }
