"""The shape of our pure ASGI middleware: an HTTP request is its business; anything else
(lifespan, WebSocket) passes through untouched.

Pure ASGI rather than Starlette's BaseHTTPMiddleware, so nothing is buffered and the status
and headers are seen as they are sent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware(ABC):
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    @abstractmethod
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One HTTP request, passed on to `self.app` (or answered here)."""
