"""Observability: request ids in every log line, Prometheus metrics, optional tracing.

- `ObservabilityMiddleware` (per HTTP request): request id context, SQL statement count, the
  server span, HTTP metrics and one access log line.
- `observe_operation` (per GraphQL operation, from the endpoint): operation metrics.
- `instrument_engine`: counts (and traces) every SQL statement against its request.
- `metrics_routes`: `/metrics` for Prometheus.
- `RequestContextFilter`: puts `request_id` (and trace ids) on log records.
"""

from portal_graph.observability.context import current_request_id, request_id_var
from portal_graph.observability.delivery import CountedTransport
from portal_graph.observability.log_context import RequestContextFilter
from portal_graph.observability.metrics import metrics_routes
from portal_graph.observability.middleware import ObservabilityMiddleware
from portal_graph.observability.operations import OperationObservation, observe_operation
from portal_graph.observability.sql import instrument_engine
from portal_graph.observability.tracing import setup_tracing, shutdown_tracing

__all__ = [
    "CountedTransport",
    "ObservabilityMiddleware",
    "OperationObservation",
    "RequestContextFilter",
    "current_request_id",
    "instrument_engine",
    "metrics_routes",
    "observe_operation",
    "request_id_var",
    "setup_tracing",
    "shutdown_tracing",
]
