"""Publishing an event: a row and a notification, in the caller's transaction.

Handlers registered with `on_publish` run in the same transaction, right after the row is
written (webhook deliveries, for example, are queued there, so they exist exactly when the
change does). They receive the session, the publisher's scope and the event.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from portal_graph.events import repository as repo
from portal_graph.events.kinds import Event, EventKind
from portal_graph.scope import Scope

Handler = Callable[[AsyncSession, Scope, Event], Awaitable[None]]
_HANDLERS: list[Handler] = []


def on_publish(handler: Handler) -> Handler:
    """Register `handler` to run inside the transaction of every event published."""
    if handler not in _HANDLERS:
        _HANDLERS.append(handler)
    return handler


async def publish(session: AsyncSession, scope: Scope, kind: EventKind, subject_type: str,
                  subject_id: uuid.UUID, *, customer_id: uuid.UUID | None = None) -> Event:
    """Record that `kind` happened to a row of this scope's organization; listeners hear of it
    when the transaction commits."""
    row = await repo.add(session, scope, kind=kind.value, subject_type=subject_type,
                         subject_id=subject_id, customer_id=customer_id)
    event = Event(position=row.id, organization_id=row.organization_id, kind=kind,
                  subject_type=subject_type, subject_id=subject_id, customer_id=customer_id)
    for handler in list(_HANDLERS):
        await handler(session, scope, event)
    await repo.notify(session, event.to_notification())
    return event
