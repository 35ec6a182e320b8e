"""Optional OpenTelemetry tracing, on when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Nothing here imports OpenTelemetry until tracing is switched on, so the packages are an
optional extra (`pip install 'portal-graph[otel]'`); set the variable without them and the
server logs one line and runs untraced. The exporter reads the standard OTEL_* variables
itself (endpoint, headers, OTEL_SERVICE_NAME, sampling).

Spans: one SERVER span per HTTP request (joining the caller's trace from `traceparent`), one
per GraphQL operation, one CLIENT span per SQL statement.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

log = logging.getLogger("portal_graph.observability")

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME = "portal-graph"
_INSTRUMENTATION = "portal_graph"
MAX_STATEMENT_CHARS = 2000


class Tracing:
    """The tracer in use, and the span shapes this service makes."""

    def __init__(self, tracer_provider: Any) -> None:
        from opentelemetry import propagate, trace

        self._trace = trace
        self._propagate = propagate
        self.provider = tracer_provider
        self.tracer = tracer_provider.get_tracer(_INSTRUMENTATION)

    @contextlib.contextmanager
    def server_span(self, method: str, headers: Mapping[str, str],
                    request_id: str) -> Iterator[Any]:
        parent = self._propagate.extract(headers)
        with self.tracer.start_as_current_span(
                f"{method} /", context=parent, kind=self._trace.SpanKind.SERVER,
                record_exception=True, set_status_on_exception=True) as span:
            span.set_attribute("http.request.method", method)
            span.set_attribute("portal_graph.request_id", request_id)
            yield span

    @staticmethod
    def finish_server_span(span: Any, method: str, route: str, status: int) -> None:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR))

    @contextlib.contextmanager
    def operation_span(self) -> Iterator[Any]:
        with self.tracer.start_as_current_span("graphql") as span:
            yield span

    def start_sql_span(self, statement: str) -> Any:
        span = self.tracer.start_span("SQL", kind=self._trace.SpanKind.CLIENT)
        span.set_attribute("db.system.name", "postgresql")
        span.set_attribute("db.query.text", statement[:MAX_STATEMENT_CHARS])
        return span

    def current_ids(self) -> tuple[str, str] | None:
        context = self._trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return f"{context.trace_id:032x}", f"{context.span_id:016x}"


_active: Tracing | None = None
_configured = False


def active() -> Tracing | None:
    return _active


def current_trace_ids() -> tuple[str, str] | None:
    return _active.current_ids() if _active is not None else None


def use(tracer_provider: Any | None) -> Tracing | None:
    """Trace with this provider (None: stop tracing). Tests use it with an in-memory exporter."""
    global _active
    _active = Tracing(tracer_provider) if tracer_provider is not None else None
    return _active


def setup_tracing(environ: Mapping[str, str] = os.environ) -> Tracing | None:
    """Switch tracing on when OTEL_EXPORTER_OTLP_ENDPOINT is set; once per process."""
    global _configured
    if _configured or not environ.get(ENDPOINT_ENV):
        return _active
    _configured = True
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as error:
        log.warning("%s is set but OpenTelemetry is not installed (%s); tracing is off. "
                    "Install it with: pip install 'portal-graph[otel]'", ENDPOINT_ENV,
                    error.name or error)
        return None
    resource = Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME",
                                                            SERVICE_NAME)})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    log.info("tracing to %s", environ[ENDPOINT_ENV])
    return use(provider)


def shutdown_tracing() -> None:
    """Flush the spans still buffered (at server shutdown)."""
    shutdown = getattr(_active.provider, "shutdown", None) if _active is not None else None
    if shutdown is not None:
        shutdown()
