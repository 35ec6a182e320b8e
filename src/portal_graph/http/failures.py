"""Requests that could not be answered: out of time, database unreachable, anything else.

Each becomes a GraphQL-shaped error body with a code and the request id, never the exception:
`TIMEOUT` (504), `SERVICE_UNAVAILABLE` (503, with Retry-After) or `INTERNAL_SERVER_ERROR` (500).
The exception itself goes to the log, with the request id, for whoever reads the logs.
"""

from __future__ import annotations

import logging
from enum import StrEnum

import orjson
from starlette.responses import Response

from portal_graph.db.outage import database_unavailable, describe_outage
from portal_graph.observability.metrics import DATABASE_UNAVAILABLE

log = logging.getLogger("portal_graph.http")

# How long a client should wait before retrying while the database is away; a restart or a
# fail-over usually takes a few seconds.
RETRY_AFTER_SECONDS = 2


class FailureCode(StrEnum):
    TIMEOUT = "TIMEOUT"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


def failure_response(code: FailureCode, request_id: str, media_type: str) -> Response:
    status, message, headers = {
        FailureCode.TIMEOUT: (504, "The request took too long and was stopped.", None),
        FailureCode.SERVICE_UNAVAILABLE: (
            503, "The service is temporarily unavailable. Try again shortly.",
            {"Retry-After": str(RETRY_AFTER_SECONDS)}),
        FailureCode.INTERNAL_SERVER_ERROR: (500, "Internal server error", None),
    }[code]
    body = {"errors": [{"message": message,
                        "extensions": {"code": code.value, "requestId": request_id}}]}
    return Response(orjson.dumps(body), status_code=status, media_type=media_type,
                    headers=headers)


def classify(error: Exception, request_id: str, *, timed_out: bool) -> FailureCode:
    """The code for a request that ended in `error`, logged once with its request id."""
    if timed_out:
        log.warning("request timed out", extra={"request_id": request_id})
        return FailureCode.TIMEOUT
    if database_unavailable(error):
        DATABASE_UNAVAILABLE.labels("request").inc()
        log.warning("database unavailable, answered 503: %s", describe_outage(error),
                    extra={"request_id": request_id})
        return FailureCode.SERVICE_UNAVAILABLE
    log.error("request failed", exc_info=error, extra={"request_id": request_id})
    return FailureCode.INTERNAL_SERVER_ERROR
