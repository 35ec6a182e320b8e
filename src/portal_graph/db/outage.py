"""What counts as the database being unreachable, as opposed to a bug.

An outage the server rides out (a restart, a fail-over, a network blip) is answered and logged
differently from a failure it cannot handle: the former is a WARNING line and a 503 with
Retry-After, the latter an ERROR with its traceback.
"""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc as sa_exc

MAX_SUMMARY_LENGTH = 200

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


def describe_outage(error: BaseException) -> str:
    """One short line naming what went away: the innermost cause (asyncpg's or the OS's)."""
    cause, seen = error, {id(error)}
    while True:
        inner = getattr(cause, "orig", None) or cause.__cause__ or cause.__context__
        if inner is None or id(inner) in seen:
            break
        cause = inner
        seen.add(id(cause))
    text = " ".join(f"{type(cause).__name__}: {cause}".split())
    return text if len(text) <= MAX_SUMMARY_LENGTH else text[: MAX_SUMMARY_LENGTH - 1] + "…"
