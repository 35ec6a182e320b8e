"""SQL for the audit log. Reads start from the viewer's scope (audit rows are staff data)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.engine import Row

from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.db.tables import audit_events, persons
from portal_graph.scope import Scope, visible
from portal_graph.scoped_sql import shapes
from portal_graph.scoped_sql.rows import listing_by_ids

_SHAPES = shapes.Shapes()


async def add(session: RequestSession, scope: Scope, values: dict[str, Any]) -> None:
    await session.execute(insert(audit_events).values(
        organization_id=scope.organization_id, id=models.new_id(), **values))



def listing(scope: Scope) -> Select[Any]:
    """Events with their actor's email and name (null when the actor is gone or a system)."""
    actor = persons.alias("actor")
    return (select(audit_events, actor.c.email.label("actor_email"),
                   actor.c.name.label("actor_name"))
            .join_from(audit_events, actor, actor.c.id == audit_events.c.actor_person_id,
                       isouter=True)
            .where(visible(scope, audit_events)))


async def by_ids(session: RequestSession, scope: Scope,
                 ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
    return await listing_by_ids(session, scope, _SHAPES, listing, audit_events.c.id, ids)
