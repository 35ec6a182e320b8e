"""Leases on due rows, the way the email outbox (mail/) and webhook deliveries (webhooks/) are
worked off: a worker claims due rows under a token of its own for a while, commits the lease
before it sends, and records an outcome only while the lease is still its own.

Times come from the database clock, so that several servers with drifting clocks agree on what
is due and when a lease runs out. Both tables have the columns this reads: `organization_id`,
`id`, `status`, `next_attempt_at` and `lease_expires_at`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    DateTime,
    Interval,
    Table,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import QueryableAttribute


def clock() -> Any:
    # clock_timestamp(), not now(): the time of the statement, whatever the transaction.
    return func.clock_timestamp(type_=DateTime(timezone=True))


def interval(seconds: float) -> Any:
    return literal(timedelta(seconds=seconds), Interval())


def later(seconds: float) -> Any:
    """The statement's time plus `seconds`: when a lease runs out, when to try again."""
    return clock() + interval(seconds)


def not_leased(lease_expires_at: ColumnElement[Any] | QueryableAttribute[Any],
               ) -> ColumnElement[bool]:
    """Never leased, or the lease ran out (its worker died or stalled mid-send)."""
    return or_(lease_expires_at.is_(None), lease_expires_at <= func.now())


def due(table: Table, batch: int) -> CTE:
    """The keys of up to `batch` due rows, locked, in the order they fell due: queued, time to
    (re)try, and not leased. Rows another worker is claiming at this instant are skipped, not
    waited for."""
    return (
        select(table.c.organization_id, table.c.id)
        .where(
            # A literal, not a parameter: the partial index on due rows (WHERE status =
            # 'QUEUED') then serves a generic plan of the prepared statement too.
            table.c.status == literal_column("'QUEUED'"),
            table.c.next_attempt_at <= func.now(),
            not_leased(table.c.lease_expires_at),
        )
        .order_by(table.c.next_attempt_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
