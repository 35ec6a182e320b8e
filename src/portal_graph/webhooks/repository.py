"""Every SQL statement on webhook endpoints and deliveries.

Requests read and write through their Scope; the worker (WEBHOOKS system context) claims due
deliveries of every organization with a lease it commits before it sends, exactly like the
email outbox (mail/outbox.py), and records an outcome only while the lease is its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from portal_graph.db import models
from portal_graph.db.tables import customer_grants as grants
from portal_graph.db.tables import external_users, persons
from portal_graph.db.tables import staff_members as staff
from portal_graph.db.tables import webhook_deliveries as deliveries
from portal_graph.db.tables import webhook_endpoints as endpoints
from portal_graph.db.tenancy import SystemContext, runs_in
from portal_graph.events.kinds import Event
from portal_graph.scope import Scope, visible
from portal_graph.scoped_sql import leases

# Events every endpoint may subscribe to, and those only the organization's (staff) endpoints
# may: an external user hears nothing about invitations or other external users.
FOR_EVERYONE = ("job.completed", "job.updated", "map_capture.created")
FOR_STAFF = ("invitation.accepted", "invitation.email_failed", "external_user.access_revoked")


# --- endpoints, through the scope ----------------------------------------------------------


async def add_endpoint(session: AsyncSession, scope: Scope, *, url: str,
                       description: str | None, kinds: list[str],
                       secret_ciphertext: bytes) -> Row[Any]:
    return (await session.execute(insert(endpoints).values(
        organization_id=scope.organization_id, id=models.new_id(), url=url,
        description=description, owner_external_user_id=scope.external_user_id,
        event_kinds=kinds, secret_ciphertext=secret_ciphertext)
        .returning(*endpoints.c))).one()


async def endpoint(session: AsyncSession, scope: Scope, endpoint_id: uuid.UUID,
                   *, lock: bool = False) -> Row[Any] | None:
    statement = select(endpoints).where(visible(scope, endpoints), endpoints.c.id == endpoint_id)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).first()


async def endpoints_of(session: AsyncSession, scope: Scope) -> Sequence[Row[Any]]:
    return (await session.execute(select(endpoints).where(visible(scope, endpoints))
                                  .order_by(endpoints.c.id))).all()


async def change_endpoint(session: AsyncSession, scope: Scope, endpoint_id: uuid.UUID,
                          **values: Any) -> Row[Any] | None:
    return (await session.execute(
        update(endpoints).where(visible(scope, endpoints), endpoints.c.id == endpoint_id)
        .values(**values).returning(*endpoints.c))).first()


async def remove_endpoint(session: AsyncSession, scope: Scope, endpoint_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(endpoints).where(visible(scope, endpoints), endpoints.c.id == endpoint_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def delivery_listing(scope: Scope) -> Any:
    return select(deliveries).where(visible(scope, deliveries))


async def redeliver(session: AsyncSession, scope: Scope,
                    delivery_id: uuid.UUID) -> Row[Any] | None:
    """Queue a delivery again, now, with a fresh count of attempts (same webhook-id). One a
    worker holds right now is left alone (it is being delivered)."""
    return (await session.execute(
        update(deliveries)
        .where(visible(scope, deliveries), deliveries.c.id == delivery_id,
               deliveries.c.lease_token.is_(None))
        .values(status="QUEUED", attempts=0, next_attempt_at=func.now(), last_error=None)
        .returning(*deliveries.c))).first()


# --- queueing, in the publishing transaction -----------------------------------------------


async def queue(session: AsyncSession, event: Event) -> None:
    """One delivery per enabled endpoint of the event's organization subscribed to its kind.
    External users' endpoints only for events about their granted customers (their scope is
    checked again at delivery)."""
    kind = event.kind.value
    if kind not in FOR_EVERYONE and kind not in FOR_STAFF:
        return
    granted = select(1).where(
        grants.c.organization_id == endpoints.c.organization_id,
        grants.c.external_user_id == endpoints.c.owner_external_user_id,
        grants.c.customer_id == event.customer_id).exists()
    for_owner = (endpoints.c.owner_external_user_id.is_(None) if kind in FOR_STAFF
                 else or_(endpoints.c.owner_external_user_id.is_(None), granted))
    chosen = select(
        endpoints.c.organization_id, func.gen_random_uuid(), endpoints.c.id,
        literal(event.position), literal(kind), literal(event.subject_type),
        literal(event.subject_id), literal(event.customer_id, deliveries.c.customer_id.type),
        func.now(),
    ).where(endpoints.c.organization_id == event.organization_id, endpoints.c.enabled,
            literal(kind) == func.any(endpoints.c.event_kinds), for_owner)
    await session.execute(insert(deliveries).from_select(
        ["organization_id", "id", "endpoint_id", "event_position", "kind", "subject_type",
         "subject_id", "customer_id", "occurred_at"], chosen))


# --- the worker (WEBHOOKS system context) --------------------------------------------------


@dataclass(frozen=True)
class Claim:
    token: uuid.UUID
    deliveries: list[Row[Any]]


@runs_in(SystemContext.WEBHOOKS)
async def claim_due(session: AsyncSession, batch: int, lease_seconds: float) -> Claim:
    """Lease up to `batch` due deliveries (queued, time to try, not leased or lease run out),
    skipping rows another worker is claiming at this instant."""
    token = uuid.uuid4()
    due = leases.due(deliveries, batch)
    rows = (await session.execute(
        update(deliveries)
        .where(deliveries.c.organization_id == due.c.organization_id,
               deliveries.c.id == due.c.id)
        .values(lease_token=token, lease_expires_at=leases.later(lease_seconds))
        .returning(*deliveries.c))).all()
    return Claim(token, sorted(rows, key=lambda row: (row.event_position, row.id)))


@runs_in(SystemContext.WEBHOOKS)
async def endpoints_by_id(session: AsyncSession,
                          keys: list[tuple[uuid.UUID, uuid.UUID]]) -> dict[uuid.UUID, Row[Any]]:
    if not keys:
        return {}
    rows = (await session.execute(select(endpoints).where(
        tuple_(endpoints.c.organization_id, endpoints.c.id).in_(sorted(set(keys)))))).all()
    return {row.id: row for row in rows}


@runs_in(SystemContext.WEBHOOKS)
async def owner_grants(session: AsyncSession, organization_id: uuid.UUID,
                       external_user_id: uuid.UUID) -> frozenset[uuid.UUID] | None:
    """The customers an endpoint's owner may see now; None when their access is revoked."""
    active = (await session.execute(select(external_users.c.id).where(
        external_users.c.organization_id == organization_id,
        external_users.c.id == external_user_id,
        external_users.c.access_revoked_at.is_(None)))).first()
    if active is None:
        return None
    rows = await session.execute(select(grants.c.customer_id).where(
        grants.c.organization_id == organization_id,
        grants.c.external_user_id == external_user_id))
    return frozenset(rows.scalars())


@runs_in(SystemContext.WEBHOOKS)
async def record(session: AsyncSession, claim: Claim, delivery: Row[Any], **values: Any) -> bool:
    """An outcome, which also ends the lease; only while the lease is `claim`'s."""
    result = await session.execute(
        update(deliveries)
        .where(deliveries.c.organization_id == delivery.organization_id,
               deliveries.c.id == delivery.id, deliveries.c.lease_token == claim.token)
        .values(lease_token=None, lease_expires_at=None, **values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def now() -> Any:
    return leases.clock()


def later(seconds: float) -> Any:
    return leases.later(seconds)


@runs_in(SystemContext.WEBHOOKS)
async def endpoint_succeeded(session: AsyncSession, organization_id: uuid.UUID,
                             endpoint_id: uuid.UUID) -> None:
    await session.execute(update(endpoints).where(
        endpoints.c.organization_id == organization_id, endpoints.c.id == endpoint_id,
        endpoints.c.failing_since.is_not(None)).values(failing_since=None))


@runs_in(SystemContext.WEBHOOKS)
async def endpoint_failed(session: AsyncSession, organization_id: uuid.UUID,
                          endpoint_id: uuid.UUID, disable_after_seconds: float) -> bool:
    """Note a failure; disable the endpoint when it has been failing that long. True when this
    call disabled it."""
    await session.execute(update(endpoints).where(
        endpoints.c.organization_id == organization_id, endpoints.c.id == endpoint_id,
        endpoints.c.failing_since.is_(None)).values(failing_since=func.now()))
    disabled = await session.execute(update(endpoints).where(
        endpoints.c.organization_id == organization_id, endpoints.c.id == endpoint_id,
        endpoints.c.enabled,
        endpoints.c.failing_since <= func.now() - leases.interval(disable_after_seconds))
        .values(enabled=False, disabled_reason="failing for too long"))
    return bool(disabled.rowcount)  # type: ignore[attr-defined]


@runs_in(SystemContext.WEBHOOKS)
async def admin_emails(session: AsyncSession, organization_id: uuid.UUID) -> list[str]:
    rows = await session.execute(
        select(persons.c.email).join_from(staff, persons, persons.c.id == staff.c.person_id)
        .where(staff.c.organization_id == organization_id, staff.c.role == models.Role.ADMIN,
               staff.c.deactivated_at.is_(None)).order_by(persons.c.email))
    return list(rows.scalars())




@runs_in(SystemContext.HOUSEKEEPING)
async def delete_settled(session: AsyncSession, keep: str) -> int:
    """Delete deliveries settled longer ago than `keep` (an interval, '30 days'); how many went
    (maintenance.py, in the housekeeping context)."""
    result = await session.execute(delete(deliveries).where(
        deliveries.c.status != "QUEUED",
        deliveries.c.created_at < func.now() - text(f"interval '{keep}'")))
    return result.rowcount or 0  # type: ignore[attr-defined, no-any-return]
