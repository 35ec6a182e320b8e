"""Per HTTP request: the request id bound for log lines, the SQL statement count, the server
span, HTTP metrics and one access log line.

It sits just inside RequestIdMiddleware (which chooses the id and returns it as X-Request-Id)
and binds that id to a context variable, where RequestContextFilter finds it for every record.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from portal_graph.http.middleware import HttpMiddleware
from portal_graph.http.request_id import new_request_id, request_id_of
from portal_graph.observability import metrics, tracing
from portal_graph.observability.context import (
    RequestObservation,
    current_request,
    request_id_var,
)

access_log = logging.getLogger("portal_graph.access")

# Probes and scrapes come every few seconds: their lines are DEBUG so they don't drown the rest.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics", "/static"})
UNMATCHED = "(unmatched)"


def route_label(scope: Scope) -> str:
    """The route's template, never the raw path: /accept/{token} must not log the token."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def _request_id(scope: Scope) -> str:
    """The id RequestIdMiddleware chose; without it (an app assembled differently), a new one,
    recorded where it would have put it."""
    request_id = request_id_of(scope)
    if not request_id:
        request_id = scope.setdefault("state", {})["request_id"] = new_request_id()
    return request_id


class ObservabilityMiddleware(HttpMiddleware):
    """Pure ASGI, so it adds no buffering and sees the status as it is sent."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = _request_id(scope)
        observation = RequestObservation(request_id)
        id_token = request_id_var.set(request_id)
        observation_token = current_request.set(observation)
        method = scope["method"]
        status = 500  # unless a response starts: an exception here becomes a 500 outside
        started = time.perf_counter()

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        tracer = tracing.active()
        span_scope: contextlib.AbstractContextManager[Any] = (
            tracer.server_span(method, _headers(scope), request_id) if tracer is not None
            else contextlib.nullcontext())
        try:
            with span_scope as span:
                try:
                    await self.app(scope, receive, send_observed)
                finally:
                    if span is not None:
                        tracing.Tracing.finish_server_span(span, method, route_label(scope),
                                                           status)
                    self._report(scope, observation, method, status,
                                 time.perf_counter() - started)
        finally:
            current_request.reset(observation_token)
            request_id_var.reset(id_token)

    @staticmethod
    def _report(scope: Scope, observation: RequestObservation, method: str, status: int,
                seconds: float) -> None:
        route = route_label(scope)
        metrics.HTTP_REQUESTS.labels(route, method, str(status)).inc()
        metrics.HTTP_DURATION.labels(route).observe(seconds)
        if observation.operation is not None:
            metrics.SQL_STATEMENTS.labels(observation.operation).observe(
                observation.sql_statements)
        level = logging.DEBUG if route in _QUIET_ROUTES else logging.INFO
        access_log.log(level, "%s %s %d", method, route, status, extra={
            "method": method, "route": route, "status": status,
            "duration_ms": round(seconds * 1000, 2), "operation": observation.operation,
            "sql_statements": observation.sql_statements,
        })


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())}
