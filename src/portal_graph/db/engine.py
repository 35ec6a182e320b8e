"""Engine and session factory. One AsyncSession per request, owned by the GraphQL endpoint."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from portal_graph.config import Settings
from portal_graph.db.embedded import start_embedded
from portal_graph.db.session import RequestSession
from portal_graph.observability.pool import ObservedPool

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
                max_overflow: int | None = None, name: str = "portal-graph") -> AsyncEngine:
    engine = create_async_engine(
        asyncpg_url(url or resolve_database_url(settings)),
        pool_size=settings.db_pool_size if pool_size is None else pool_size,
        max_overflow=settings.db_max_overflow if max_overflow is None else max_overflow,
        # No ping before each use (a round trip per request): a connection found dead by a
        # session's first statement is replaced and the statement retried (db/session.py),
        # and none is kept longer than this, so one silently dropped is not kept forever.
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_timeout=settings.db_pool_timeout_seconds,
        poolclass=ObservedPool,  # its use shows in /metrics, under the application name
        pool_logging_name=name,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": name,
            },
        },
    )
    event.listen(engine.sync_engine, "checkout", _replace_if_closed)
    return engine


def _replace_if_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection the server closed while it sat in the pool (a restart, a
    terminated backend) is replaced at checkout: asyncpg saw its socket close, so this costs
    no round trip. One that died unseen is caught by the session's first statement."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[RequestSession]:
    return async_sessionmaker(engine, class_=RequestSession, expire_on_commit=False,
                              autoflush=False)
