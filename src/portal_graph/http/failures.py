"""Requests that could not be answered: out of time, database unreachable, anything else.

Each becomes a GraphQL-shaped error body with a code and the request id, never the exception:
`TIMEOUT` (504), `SERVICE_UNAVAILABLE` (503, with Retry-After) or `INTERNAL_SERVER_ERROR` (500).
The exception itself goes to the log, with the request id, for whoever reads the logs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from enum import StrEnum

import asyncpg
import orjson
from sqlalchemy import exc as sa_exc
from starlette.responses import Response

log = logging.getLogger("portal_graph.http")

# How long a client should wait before retrying while the database is away; a restart or a
# fail-over usually takes a few seconds.
RETRY_AFTER_SECONDS = 2


class FailureCode(StrEnum):
    TIMEOUT = "TIMEOUT"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


# SQLSTATE classes that mean "the server or the connection went away", not "your SQL is wrong":
# 08 connection exception, 57P01-57P03 admin/crash shutdown and "cannot connect now".
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")
_UNAVAILABLE_TYPES: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable: before or during a connection
    TimeoutError,  # asyncpg's connect timeout (our own deadline is told apart by the caller)
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,
    sa_exc.TimeoutError,  # no pooled connection free within pool_timeout
    sa_exc.DisconnectionError,
)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([current.__cause__, current.__context__, getattr(current, "orig", None)])


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database could not be reached (as opposed to a bug)."""
    for link in _chain(error):
        if isinstance(link, _UNAVAILABLE_TYPES):
            return True
        if isinstance(link, sa_exc.DBAPIError) and link.connection_invalidated:
            return True
        if isinstance(link, asyncpg.InterfaceError) and "closed" in str(link):
            return True  # "connection is closed": the server went away mid-request
        if isinstance(link, sa_exc.PendingRollbackError) and "reconnect" in str(link):
            # Committing after a statement lost its connection (that error was masked in the
            # GraphQL result): "Can't reconnect until invalid transaction is rolled back".
            return True
        sqlstate = getattr(link, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
    return False


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
        log.warning("database unavailable: %s: %s", type(error).__name__, error,
                    extra={"request_id": request_id})
        return FailureCode.SERVICE_UNAVAILABLE
    log.error("request failed", exc_info=error, extra={"request_id": request_id})
    return FailureCode.INTERNAL_SERVER_ERROR
