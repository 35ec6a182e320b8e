"""Outbox repository: every SQL statement on `email_outbox` lives here.

Services enqueue in the same transaction as the change that causes the email, so an email is
queued exactly when the change commits. These functions flush, never commit. Times come from the
database clock so that several servers with drifting clocks agree on what is due.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from portal_graph.db import models
from portal_graph.mail.secretbox import SecretBox

Outbox = models.OutboxEmail


async def enqueue(
    session: AsyncSession,
    *,
    organization_id: UUID,
    template: str,
    to_address: str,
    params: dict[str, Any],
    secret: str | None,
    box: SecretBox,
    invitation_id: UUID | None = None,
) -> models.OutboxEmail:
    """Queue one email, due now; `secret` (the invite link) is stored only encrypted.

    An invitation has one live link at a time, so a still-queued email for the same invitation
    carries a dead link: it is dropped rather than sent. One being sent at this very moment is
    locked by its worker and is left alone.
    """
    if secret is not None and secret in json.dumps(params, default=str):
        raise ValueError("params must not contain the secret; pass it as `secret`")
    # The session does not autoflush, and the row may reference an invitation added just now.
    await session.flush()
    if invitation_id is not None:
        await discard_queued(session, organization_id, invitation_id)
    statement = (
        insert(Outbox)
        .values(
            organization_id=organization_id,
            invitation_id=invitation_id,
            template=template,
            to_address=to_address,
            params=params,
            secret_ciphertext=box.encrypt(secret) if secret is not None else None,
            status=models.OutboxStatus.QUEUED,
            attempts=0,
            next_attempt_at=func.now(),
        )
        .returning(Outbox)
    )
    return (await session.scalars(statement)).one()


async def discard_queued(session: AsyncSession, organization_id: UUID, invitation_id: UUID) -> int:
    """Drop the not-yet-sent emails of an invitation (its link changed or it was revoked)."""
    unclaimed = (
        select(Outbox.id)
        .where(
            Outbox.organization_id == organization_id,
            Outbox.invitation_id == invitation_id,
            Outbox.status == models.OutboxStatus.QUEUED,
        )
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        delete(Outbox)
        .where(Outbox.organization_id == organization_id, Outbox.id.in_(unclaimed))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def latest_status_by_invitation(
    session: AsyncSession, organization_id: UUID, invitation_ids: list[UUID]
) -> dict[UUID, models.OutboxStatus]:
    """Delivery status of each invitation's newest email; invitations without one are absent."""
    if not invitation_ids:
        return {}
    statement = (
        select(Outbox.invitation_id, Outbox.status)
        .where(
            Outbox.organization_id == organization_id,
            Outbox.invitation_id.in_(invitation_ids),
        )
        .ext(distinct_on(Outbox.invitation_id))
        # created_at orders rows of different transactions; the UUIDv7 id breaks ties.
        .order_by(Outbox.invitation_id, Outbox.created_at.desc(), Outbox.id.desc())
    )
    rows = (await session.execute(statement)).all()
    return {invitation_id: status for invitation_id, status in rows if invitation_id is not None}


async def queue_depth(session: AsyncSession) -> dict[str, int]:
    """Number of outbox rows per status, every status present (for metrics)."""
    rows = (
        await session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
    ).all()
    depth = {status.value: 0 for status in models.OutboxStatus}
    depth.update({status.value: int(count) for status, count in rows})
    return depth


# --- used by the worker ----------------------------------------------------------------------


async def claim_due(session: AsyncSession, batch: int) -> list[models.OutboxEmail]:
    """Lock up to `batch` due emails; rows another worker holds are skipped, not waited for.

    The locks last until the caller's transaction ends, which is what keeps two workers from
    sending the same email.
    """
    statement = (
        select(Outbox)
        .where(
            Outbox.status == models.OutboxStatus.QUEUED,
            Outbox.next_attempt_at <= func.now(),
        )
        .order_by(Outbox.next_attempt_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(statement)).all())


async def mark_sent(session: AsyncSession, email: models.OutboxEmail) -> None:
    """Record delivery and erase the link: nothing secret remains once the email is out."""
    await _update(
        session,
        email,
        status=models.OutboxStatus.SENT,
        attempts=email.attempts + 1,
        # clock_timestamp(), not now(): the claiming transaction may have started a while ago.
        sent_at=_clock(),
        last_error=None,
        secret_ciphertext=None,
    )


async def mark_failed(
    session: AsyncSession,
    email: models.OutboxEmail,
    *,
    error: str,
    max_attempts: int,
    retry_in_seconds: float,
) -> models.OutboxStatus:
    """Count a failed attempt: retry later, or give up (and erase the link) at `max_attempts`."""
    attempts = email.attempts + 1
    if attempts >= max_attempts:
        await _update(
            session,
            email,
            status=models.OutboxStatus.FAILED,
            attempts=attempts,
            last_error=error,
            secret_ciphertext=None,
        )
        return models.OutboxStatus.FAILED
    await _update(
        session,
        email,
        attempts=attempts,
        last_error=error,
        next_attempt_at=_clock() + timedelta(seconds=retry_in_seconds),
    )
    return models.OutboxStatus.QUEUED


def _clock() -> Any:
    return func.clock_timestamp(type_=DateTime(timezone=True))


async def _update(session: AsyncSession, email: models.OutboxEmail, **values: Any) -> None:
    await session.execute(
        update(Outbox)
        .where(Outbox.organization_id == email.organization_id, Outbox.id == email.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
