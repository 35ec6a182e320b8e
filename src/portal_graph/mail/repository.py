"""SQL for `email_outbox`: every statement on it lives here (mail/outbox.py says what may be
queued, mail/worker.py sends).

Services enqueue in the same transaction as the change that causes the email, so an email is
queued exactly when the change commits. These functions flush, never commit. Times come from the
database clock so that several servers with drifting clocks agree on what is due.

The one repository on ORM entities (`models.OutboxEmail`) rather than Core rows: the worker
holds a claimed email across its send (minutes, several transactions) and reads it after the
statements that changed it, and `claim_due` returns the entities RETURNING filled in; a Row
would do for reading, but the worker, its tests and the templates take the entity's typed
attributes, so converting it buys nothing that changes behaviour. Only this module writes
the table.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    cast,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from portal_graph.db import models
from portal_graph.db.tenancy import SystemContext, runs_in
from portal_graph.scope import Scope
from portal_graph.scoped_sql import leases
from portal_graph.scoped_sql.shapes import one_of

Outbox = models.OutboxEmail


async def insert_queued(session: AsyncSession, scope: Scope, *, template: str,
                        to_address: str, params: dict[str, Any],
                        secret_ciphertext: bytes | None,
                        invitation_id: UUID | None) -> models.OutboxEmail:
    """One email, queued and due now (mail/outbox.py's `enqueue` says what goes in)."""
    statement = (
        insert(Outbox)
        .values(
            organization_id=scope.organization_id,
            invitation_id=invitation_id,
            template=template,
            to_address=to_address,
            params=params,
            secret_ciphertext=secret_ciphertext,
            status=models.OutboxStatus.QUEUED,
            attempts=0,
            next_attempt_at=func.now(),
        )
        .returning(Outbox)
    )
    return (await session.scalars(statement)).one()


async def discard_queued(session: AsyncSession, scope: Scope, invitation_id: UUID) -> int:
    """Drop the not-yet-sent emails of an invitation (its link changed or it was revoked).

    An email a worker holds a live lease on may be on its way to the SMTP server right now: it
    is left alone, and recorded as sent or failed like any other.
    """
    unclaimed = (
        select(Outbox.id)
        .where(
            Outbox.organization_id == scope.organization_id,
            Outbox.invitation_id == invitation_id,
            Outbox.status == models.OutboxStatus.QUEUED,
            leases.not_leased(Outbox.lease_expires_at),
        )
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        delete(Outbox)
        .where(Outbox.organization_id == scope.organization_id, Outbox.id.in_(unclaimed))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def latest_status_by_invitation(
    session: AsyncSession, scope: Scope, invitation_ids: list[UUID]
) -> dict[UUID, models.OutboxStatus]:
    """Delivery status of each invitation's newest email; invitations without one are absent."""
    if not invitation_ids:
        return {}
    statement = (
        select(Outbox.invitation_id, Outbox.status)
        .where(
            Outbox.organization_id == scope.organization_id,
            one_of(Outbox.invitation_id, "invitation_ids"),  # ONE array parameter
        )
        .ext(distinct_on(Outbox.invitation_id))
        # created_at orders rows of different transactions; the UUIDv7 id breaks ties.
        .order_by(Outbox.invitation_id, Outbox.created_at.desc(), Outbox.id.desc())
    )
    rows = (await session.execute(statement, {"invitation_ids": list(invitation_ids)})).all()
    return {invitation_id: status for invitation_id, status in rows if invitation_id is not None}


@runs_in(SystemContext.METRICS)
async def queue_depth(session: AsyncSession) -> dict[str, int]:
    """Number of outbox rows per status, every status present (for metrics)."""
    rows = (
        await session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
    ).all()
    depth = {status.value: 0 for status in models.OutboxStatus}
    depth.update({status.value: int(count) for status, count in rows})
    return depth


# --- used by the worker ----------------------------------------------------------------------
# Each function is one statement in a transaction the worker commits at once: a lease must be
# visible to every other worker before the email goes out, and an outcome as soon as it is known.


@dataclass(frozen=True)
class Claim:
    """Emails leased to one worker under one token, in the order they fell due."""

    token: UUID
    emails: list[models.OutboxEmail]


@runs_in(SystemContext.OUTBOX)
async def claim_due(session: AsyncSession, batch: int, lease_seconds: float) -> Claim:
    """Lease up to `batch` due emails to a new token for `lease_seconds`.

    Due means queued, time to (re)try, and not leased, or leased with the lease run out (its
    worker died mid-send). Rows another worker is claiming at this instant are skipped, not
    waited for.
    """
    token = uuid.uuid4()
    due = leases.due(models.table_of(Outbox), batch)
    statement = (
        update(Outbox)
        .where(Outbox.organization_id == due.c.organization_id, Outbox.id == due.c.id)
        .values(
            lease_token=token,
            lease_expires_at=leases.later(lease_seconds),
            # A lease that ran out unrecorded is a send its worker never finished (it died or
            # stalled): that counts as an attempt, so an email that kills its worker every time
            # is given up on after `max_attempts` like any other failing email.
            attempts=Outbox.attempts + cast(Outbox.lease_expires_at.is_not(None), Integer),
        )
        .returning(Outbox)
        .execution_options(synchronize_session=False)
    )
    emails = list((await session.scalars(statement)).all())
    return Claim(token, sorted(emails, key=lambda email: (email.next_attempt_at, email.id)))


@runs_in(SystemContext.OUTBOX)
async def renew(session: AsyncSession, claim: Claim, emails: list[models.OutboxEmail],
                lease_seconds: float) -> set[UUID]:
    """Extend the lease on `emails`; returns the ids still leased to `claim`."""
    if not emails:
        return set()
    result = await session.execute(
        update(Outbox)
        .where(_leased_to(claim, emails))
        .values(lease_expires_at=leases.later(lease_seconds))
        .returning(Outbox.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


@runs_in(SystemContext.OUTBOX)
async def release(session: AsyncSession, claim: Claim, emails: list[models.OutboxEmail]) -> None:
    """Give up the lease on emails this worker will not send after all (it is stopping)."""
    if emails:
        await session.execute(
            update(Outbox)
            .where(_leased_to(claim, emails))
            .values(lease_token=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


@runs_in(SystemContext.OUTBOX)
async def mark_sent(session: AsyncSession, claim: Claim, email: models.OutboxEmail) -> bool:
    """Record delivery and erase the link: nothing secret remains once the email is out.

    Applies only while the email is still leased to `claim`; returns whether it did.
    """
    return await _record(
        session,
        claim,
        email,
        status=models.OutboxStatus.SENT,
        attempts=email.attempts + 1,
        sent_at=leases.clock(),
        last_error=None,
        secret_ciphertext=None,
    )


@runs_in(SystemContext.OUTBOX)
async def mark_failed(
    session: AsyncSession,
    claim: Claim,
    email: models.OutboxEmail,
    *,
    error: str,
    max_attempts: int,
    retry_in_seconds: float,
) -> models.OutboxStatus | None:
    """Count a failed attempt: retry later, or give up (and erase the link) at `max_attempts`.

    Applies only while the email is still leased to `claim`; returns the new status, or None.
    """
    attempts = email.attempts + 1
    if attempts >= max_attempts:
        recorded = await _record(
            session,
            claim,
            email,
            status=models.OutboxStatus.FAILED,
            attempts=attempts,
            last_error=error,
            secret_ciphertext=None,
        )
        return models.OutboxStatus.FAILED if recorded else None
    recorded = await _record(
        session,
        claim,
        email,
        attempts=attempts,
        last_error=error,
        next_attempt_at=leases.later(retry_in_seconds),
    )
    return models.OutboxStatus.QUEUED if recorded else None


def _leased_to(claim: Claim, emails: list[models.OutboxEmail]) -> ColumnElement[bool]:
    return and_(
        Outbox.lease_token == claim.token,
        tuple_(Outbox.organization_id, Outbox.id).in_(
            [(email.organization_id, email.id) for email in emails]),
    )


async def _record(session: AsyncSession, claim: Claim, email: models.OutboxEmail,
                  **values: Any) -> bool:
    """An outcome, which also ends the lease; nothing happens unless the lease is `claim`'s."""
    result = await session.execute(
        update(Outbox)
        .where(_leased_to(claim, [email]))
        .values(lease_token=None, lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
