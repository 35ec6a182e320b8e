"""One live subscription's source: events heard, each subject read again through the
subscriber's own scope, in a transaction of its own.

Events carry ids only. For each one of the kinds a subscription watches, the subscriber's
credential is resolved again (so a session or token that ended, or a person whose access or
role changed, ends the connection: `CredentialEnded`), a fresh `Scope` is made from it and the
subject is loaded through the same scoped loader a query uses: a row out of the subscriber's
scope is exactly as absent as a missing one, and nothing is sent. The transaction stays open
while the payload's fields are resolved (the generator is resumed only once the payload went
out), then commits.

When the hub tells a subscription it missed events (its connection was lost, or the consumer
fell behind), the ids are read back from `domain_events` after the last position handled, so
nothing committed meanwhile is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Row

from portal_graph.auth.service import InvalidToken, resolve_viewer
from portal_graph.db.session import RequestSession
from portal_graph.events import Event, EventKind, Subscription
from portal_graph.events import repository as events_repo
from portal_graph.graphql.core.context import Context
from portal_graph.graphql.core.loaders import Loaders, ScopedLoader
from portal_graph.scope import Viewer, admin_scope, scope_for


class CredentialEnded(Exception):
    """The connection's session or token ended, or what it stands for changed (audience,
    organization, person): the whole connection closes, and the client signs in again."""


def same_holder(before: Viewer, now: Viewer) -> bool:
    """The credential still stands for the same member with the same audience (grants may
    change: each event is read through the grants of its moment)."""
    return ((before.person_id, before.organization_id, before.audience, before.session_id,
             before.api_token_id)
            == (now.person_id, now.organization_id, now.audience, now.session_id,
                now.api_token_id))


@dataclass
class LiveContext(Context):
    """The context of one WebSocket subscription: rebound to a fresh session, viewer and
    loaders for every event it delivers."""

    token: str = ""

    def rebind(self, session: RequestSession, viewer: Viewer) -> None:
        self.session = session
        self.viewer = viewer
        self.scope_or_none = scope_for(viewer)
        self.loaders = Loaders(session, self.scope_or_none)


async def fresh_viewer(session: RequestSession, context: LiveContext) -> Viewer:
    """The credential's viewer now, in `session`'s transaction; CredentialEnded when it no
    longer stands for the member the connection was opened by."""
    try:
        viewer = await resolve_viewer(session, context.token, context.settings)
    except InvalidToken:
        raise CredentialEnded("the session or token ended") from None
    if not same_holder(context.viewer, viewer):
        raise CredentialEnded("the credential's access changed")
    return viewer


@dataclass(frozen=True)
class Watched:
    """What a subscription field listens for."""

    kinds: frozenset[EventKind]
    loader: type[ScopedLoader]
    customer_id: uuid.UUID | None = None  # only events of this customer's rows

    def wants(self, event: Event) -> bool:
        return event.kind in self.kinds and (
            self.customer_id is None or event.customer_id == self.customer_id)


async def watch(context: LiveContext, watched: Watched) -> AsyncIterator[Row[Any]]:
    """The rows of `watched`'s events that the subscriber may see, as they change."""
    hub = context.runtime.hub
    if hub is None:
        raise RuntimeError("live subscriptions need the app's event hub (app.py starts it)")
    subscription = hub.subscribe(context.viewer.organization_id)
    try:
        position = await _start(context, subscription)
        while True:
            event = await subscription.next()
            if subscription.closed:
                return
            if subscription.take_missed():
                pending = await _missed(context, position)
            elif event is not None:
                pending = [event]
            else:
                continue
            for one in pending:
                position = max(position, one.position)
                if not watched.wants(one):
                    continue
                async with context.runtime.sessionmaker() as session, session.begin(), \
                        session.settled():
                    context.rebind(session, await fresh_viewer(session, context))
                    row = await context.loaders.get(watched.loader).load(one.subject_id)
                    if row is not None:
                        yield row
    finally:
        subscription.close()


async def _start(context: LiveContext, subscription: Subscription) -> int:
    """Check the credential once more and note the latest position (after subscribing, so
    nothing falls between): what is heard is delivered, what is missed is read back from
    the last position handled."""
    subscription.take_missed()  # nothing before this moment is owed
    async with context.runtime.sessionmaker() as session, session.begin(), session.settled():
        viewer = await fresh_viewer(session, context)
        assert viewer.organization_id is not None
        return await events_repo.latest_position(session, admin_scope(viewer.organization_id))


async def _missed(context: LiveContext, position: int) -> list[Event]:
    """The organization's events after `position` (ids only; each is read through the
    subscriber's scope before anything is sent)."""
    async with context.runtime.sessionmaker() as session, session.begin(), session.settled():
        viewer = await fresh_viewer(session, context)
        assert viewer.organization_id is not None
        rows = await events_repo.after(session, admin_scope(viewer.organization_id), position)
    return [Event(position=row.id, organization_id=row.organization_id,
                  kind=EventKind(row.kind), subject_type=row.subject_type,
                  subject_id=row.subject_id, customer_id=row.customer_id) for row in rows]
