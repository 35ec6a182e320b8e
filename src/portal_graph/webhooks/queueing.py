"""Deliveries are queued in the transaction of the change they tell of (events.on_publish):
they exist exactly when the change commits, and never for one rolled back."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from portal_graph.events import Event, on_publish
from portal_graph.scope import Scope
from portal_graph.webhooks import repository as repo


async def queue_deliveries(session: AsyncSession, scope: Scope, event: Event) -> None:
    await repo.queue(session, event)


def install() -> None:
    on_publish(queue_deliveries)
