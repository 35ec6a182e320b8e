"""Rules for customers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func
from sqlalchemy.engine import Row

from portal_graph.actor import Actor
from portal_graph.audit.service import AuditAction, record
from portal_graph.customers import repository
from portal_graph.db.session import RequestSession
from portal_graph.events import EventKind, publish
from portal_graph.problems import invalid, not_found, stale
from portal_graph.scope import Scope
from portal_graph.scoped_sql.rows import lock_visible, update_visible

MAX_NAME = 200


def clean_name(name: str, field: str = "name") -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise invalid("Name must not be empty.", field)
    if len(cleaned) > MAX_NAME:
        raise invalid(f"Name must be at most {MAX_NAME} characters.", field)
    return cleaned


async def create_customer(session: RequestSession, scope: Scope, *, name: str) -> Row[Any]:
    return await repository.create(session, scope, name=clean_name(name))


async def locked_as_read(session: RequestSession, scope: Scope, table: Table,
                         row_id: uuid.UUID | None, what: str, field: str,
                         expected_updated_at: datetime | None) -> Row[Any]:
    """The row a correction changes, locked (so the check holds until commit): NOT_FOUND
    (`what`, input `field`) when not visible, STALE_OBJECT when it is no longer the version the
    client read (`expected_updated_at`, optional). Customers and the work are corrected alike."""
    row = await lock_visible(session, scope, table, row_id)
    if row is None:
        raise not_found(what, field)
    if expected_updated_at is not None and row.updated_at != expected_updated_at:
        raise stale(what.lower())
    return row


async def _current(session: RequestSession, scope: Scope, customer_id: uuid.UUID | None,
                   expected_updated_at: datetime | None) -> Row[Any]:
    return await locked_as_read(session, scope, repository.customers, customer_id, "Customer",
                                "customerId", expected_updated_at)


async def _changed(session: RequestSession, scope: Scope, actor: Actor, row: Row[Any],
                   values: dict[str, Any], action: AuditAction, event: EventKind) -> Row[Any]:
    updated = await update_visible(session, scope, repository.customers, row.id, values)
    assert updated is not None  # locked by _current
    await record(session, scope, actor, action, customer_ids=[row.id],
                 details={"fields": sorted(values)})
    await publish(session, scope, event, "Customer", row.id, customer_id=row.id)
    return updated


async def update_customer(session: RequestSession, scope: Scope, actor: Actor, *,
                          customer_id: uuid.UUID | None, changes: dict[str, Any],
                          expected_updated_at: datetime | None) -> Row[Any]:
    """Correct a customer (`changes`: the fields given, by column). Its name is what external
    users see, so a change is audited."""
    values = {}
    if "name" in changes:
        if changes["name"] is None:
            raise invalid("Name must not be empty.", "name")
        values["name"] = clean_name(changes["name"])
    row = await _current(session, scope, customer_id, expected_updated_at)
    values = {k: v for k, v in values.items() if getattr(row, k) != v}
    if not values:
        return row
    return await _changed(session, scope, actor, row, values, AuditAction.CUSTOMER_UPDATED,
                          EventKind.CUSTOMER_UPDATED)


async def archive_customer(session: RequestSession, scope: Scope, actor: Actor, *,
                           customer_id: uuid.UUID | None,
                           expected_updated_at: datetime | None) -> Row[Any]:
    """Archive a customer: from the next request it is gone from external users' portals, with
    its jobs, captures and assets (scope.py), and it cannot be invited to or granted. Nothing is
    deleted: staff still see it and its history. Archiving an archived customer changes
    nothing."""
    row = await _current(session, scope, customer_id, expected_updated_at)
    if row.archived_at is not None:
        return row
    return await _changed(session, scope, actor, row, {"archived_at": func.now()},
                          AuditAction.CUSTOMER_ARCHIVED,
                          EventKind.CUSTOMER_UPDATED)
