"""What observability knows about the request being served, carried in context variables.

A context variable follows the request into every task graphql-core starts for sibling fields
(tasks copy the context) and into SQLAlchemy's greenlets (they share their caller's context),
so a log line, a SQL statement or a span anywhere below the endpoint finds its request.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

# Set per request by ObservabilityMiddleware to the id http/request_id.py chose; it carries
# the id to log lines (RequestContextFilter).
request_id_var: ContextVar[str | None] = ContextVar("portal_graph_request_id", default=None)


@dataclass
class RequestObservation:
    """Counters of one HTTP request that the middleware reports when the response is done."""

    request_id: str
    sql_statements: int = 0
    # The GraphQL operation label for per-operation request metrics (None: not a GraphQL
    # request); a batch of several operations reports as BATCH.
    operation: str | None = None

    def add_operation(self, label: str) -> None:
        self.operation = label if self.operation in (None, label) else BATCH


BATCH = "(batch)"

current_request: ContextVar[RequestObservation | None] = ContextVar(
    "portal_graph_request_observation", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()

