"""A logging filter that stamps every record with the request (and trace) it belongs to."""

from __future__ import annotations

import logging

from portal_graph.observability import tracing
from portal_graph.observability.context import current_request_id


class RequestContextFilter(logging.Filter):
    """Adds `request_id` (None outside a request) and, while tracing, `trace_id`/`span_id`.

    Installed on the handler, not on a logger, so it sees records from every logger
    (uvicorn's, SQLAlchemy's, ours). A request id passed explicitly in `extra` wins.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        ids = tracing.current_trace_ids()
        if ids is not None and not hasattr(record, "trace_id"):
            record.trace_id, record.span_id = ids
        return True
