"""Alembic environment: async engine over asyncpg, metadata from the domain model."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

from portal_graph.db.models import Base
from portal_graph.db.request_role import provision_request_role
from portal_graph.db.tenancy import DEFAULT_REQUEST_ROLE, SystemContext

target_metadata = Base.metadata


# Several instances may start (and so migrate) at once: they take turns on this lock, and
# the ones that come second find the schema already current.
MIGRATION_LOCK = 7_270_531_001


def _in_migration_context(connection) -> None:  # type: ignore[no-untyped-def]
    """Every transaction of this connection runs in the MIGRATION system context, so a data
    change in a migration passes the row-level security policies (db/tenancy.py)."""

    @event.listens_for(connection, "begin")
    def _begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql(
            f"SELECT set_config('app.system_context', '{SystemContext.MIGRATION.value}', true)")


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    _in_migration_context(connection)
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    connection.commit()
    try:
        context.configure(connection=connection, target_metadata=target_metadata,
                          compare_type=True, transaction_per_migration=True)
        before = context.get_context().get_current_revision()
        with context.begin_transaction():
            context.run_migrations()
        provision_request_role(connection, context.config.attributes.get(
            "request_role", DEFAULT_REQUEST_ROLE))
        connection.commit()
        # Read under the lock, so the caller reports what this run itself applied.
        context.config.attributes["revisions"] = (
            before, context.get_context().get_current_revision())
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()


async def _run_async() -> None:
    engine = create_async_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
