"""SQL for `domain_events`: an event is written in the transaction of the change it tells of."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from portal_graph.db.session import RequestSession
from portal_graph.db.tables import domain_events
from portal_graph.db.tenancy import SystemContext, runs_in
from portal_graph.scope import Scope, visible

CHANNEL = "portal_graph_events"
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


async def add(session: AsyncSession, scope: Scope, *, kind: str, subject_type: str,
              subject_id: uuid.UUID, customer_id: uuid.UUID | None) -> Row[Any]:
    return (await session.execute(
        insert(domain_events).values(
            organization_id=scope.organization_id, kind=kind, subject_type=subject_type,
            subject_id=subject_id, customer_id=customer_id)
        .returning(*domain_events.c))).one()


async def notify(session: AsyncSession, payload: str) -> None:
    """Queue a notification; PostgreSQL sends it when the transaction commits (never if not)."""
    await session.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload})


async def after(session: RequestSession, scope: Scope, position: int,
                limit: int = 1000) -> Sequence[Row[Any]]:
    """The organization's events after `position`, oldest first (a listener catching up)."""
    return (await session.execute(
        select(domain_events)
        .where(visible(scope, domain_events), domain_events.c.id > position)
        .order_by(domain_events.c.id).limit(limit))).all()


async def latest_position(session: RequestSession, scope: Scope) -> int:
    found = await session.scalar(select(func.max(domain_events.c.id))
                                 .where(visible(scope, domain_events)))
    return int(found or 0)


@runs_in(SystemContext.HOUSEKEEPING)
async def delete_told(session: AsyncSession, keep: str) -> int:
    """Delete events older than `keep` (an interval, '3 days'): told long ago, and past what a
    listener catches up on; how many went (maintenance.py, in the housekeeping context)."""
    result = await session.execute(delete(domain_events).where(
        domain_events.c.occurred_at < func.now() - text(f"interval '{keep}'")))
    return result.rowcount or 0  # type: ignore[attr-defined, no-any-return]
