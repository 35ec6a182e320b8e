"""Engine and session factory. One AsyncSession per request, owned by the GraphQL endpoint."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, Pool

from portal_graph.config import Settings
from portal_graph.db.embedded import start_embedded
from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import (
    DEFAULT_REQUEST_ROLE,
    REQUEST_ROLE,
    TRANSACTION_SETTINGS,
    watch_login_role,
)

POOL_RECYCLE_SECONDS = 1800


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded server's when none is configured."""
    return settings.database_url or start_embedded(settings.data_dir)


def asyncpg_url(url: str) -> str:
    """Turn a libpq-style URL into SQLAlchemy's asyncpg form (a `host=` socket query stays)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), ""))


def make_engine(settings: Settings, url: str | None = None, *, pool_size: int | None = None,
                max_overflow: int | None = None, name: str = "portal-graph",
                durable_commits: bool = True,
                poolclass: type[Pool] = AsyncAdaptedQueuePool) -> AsyncEngine:
    """`durable_commits=False`: commits don't wait for the WAL flush (for rate-limit counters,
    where losing the last hits in a crash is harmless and a flush per request is not).
    `poolclass`: the server's runtime passes one that reports to /metrics
    (observability/pool.py); the pool's logging name is `name`."""
    commits = {} if durable_commits else {"synchronous_commit": "off"}
    connection_settings = {
        "statement_timeout": str(settings.db_statement_timeout_ms),
        # A request waiting on a row lock gives up (and answers) long before its
        # statement timeout; a transaction left open by a stuck client is ended.
        "lock_timeout": str(settings.db_lock_timeout_ms),
        "idle_in_transaction_session_timeout": str(settings.db_idle_in_transaction_timeout_ms),
        **commits,
    }
    connect_args: dict[str, Any] = {
        "server_settings": {**connection_settings, "application_name": name}}
    if settings.db_pgbouncer:
        connect_args = pgbouncer_connect_args(name)
    engine = create_async_engine(
        asyncpg_url(url or resolve_database_url(settings)),
        pool_size=settings.db_pool_size if pool_size is None else pool_size,
        max_overflow=settings.db_max_overflow if max_overflow is None else max_overflow,
        # No ping before each use (a round trip per request): a connection found dead by a
        # session's first statement is replaced and the statement retried (db/session.py),
        # and none is kept longer than this, so one silently dropped is not kept forever.
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_timeout=settings.db_pool_timeout_seconds,
        poolclass=poolclass,
        pool_logging_name=name,
        # A failed statement's exception (logged with its request id) never carries the
        # parameters: they can hold emails, search terms and token digests.
        hide_parameters=True,
        connect_args=connect_args,
    )
    watch_login_role(engine)
    if settings.db_pgbouncer:
        send_settings_per_transaction(engine, connection_settings)
    event.listen(engine.sync_engine, "checkout", _replace_if_closed)
    return engine


def pgbouncer_connect_args(name: str) -> dict[str, Any]:
    """asyncpg through PgBouncer's transaction pooling (1.18 and later; see docs/SCALING.md).

    Consecutive transactions of one client connection may run on different server
    connections, so nothing may outlive a transaction on the server: asyncpg keeps no
    statement cache, SQLAlchemy's prepared statements are the unnamed one (parsed and run in
    the same transaction, so on the same server connection; never left behind), and
    only `application_name` goes in the start-up packet (PgBouncer 1.18 refuses connections
    that send any other setting): the timeouts are sent with each transaction instead
    (`send_settings_per_transaction`)."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _unnamed_statement,
        "server_settings": {"application_name": name},
    }


def _unnamed_statement() -> str:
    """The unnamed statement: each Parse replaces the last, so none outlives its use on a
    server connection (a named one would, whenever asyncpg's close of it went out in a later
    transaction, on another server connection)."""
    return ""


def send_settings_per_transaction(engine: AsyncEngine, values: dict[str, str]) -> None:
    """Note on each new connection the settings its transactions must say themselves: the
    transaction's opening statement (db/tenancy.py) sets them with `set_config(..., true)`."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(dbapi_connection: Any, record: Any) -> None:
        record.info[TRANSACTION_SETTINGS] = dict(values)


def _replace_if_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection the server closed while it sat in the pool (a restart, a
    terminated backend) is replaced at checkout: asyncpg saw its socket close, so this costs
    no round trip. One that died unseen is caught by the session's first statement."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def make_sessionmaker(engine: AsyncEngine, request_role: str = DEFAULT_REQUEST_ROLE,
                      ) -> async_sessionmaker[RequestSession]:
    """Sessions for the app's work: each transaction acts for nobody until told (see
    db/tenancy.py), as `request_role` where the login role would bypass row-level security."""
    return async_sessionmaker(engine, class_=RequestSession, expire_on_commit=False,
                              autoflush=False, info={REQUEST_ROLE: request_role})
