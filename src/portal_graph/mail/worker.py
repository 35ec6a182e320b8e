"""The outbox worker: sends due emails, retries with backoff, gives up after a limit.

Every server process may run one, and any number of processes may share the database. A worker
claims due emails by giving them a lease (its token, an expiry) and commits that before it talks
to SMTP; it sends outside any transaction; then it records each outcome, which applies only while
the lease is still its own. Other workers skip leased emails, across connection losses and
database restarts, since the lease is a committed row, not a lock that dies with a connection.

If the database goes away mid-batch, the worker goes on sending the emails it holds leases on and
keeps their outcomes in memory; it records them first when the database is back, before it claims
anything, and the leases keep every other worker off those emails meanwhile. Before each send it
makes sure the lease has the whole message deadline plus LEASE_SPARE_SECONDS left (renewing it if
not), so a send and the record of it fit in the lease.

One window stays open, as with any SMTP client: the server accepted a message and the process
died before recording it. That email's lease runs out and another worker sends it again, with the
same Message-ID (made from the outbox id), so receivers that deduplicate by Message-ID drop the
copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal_graph.config import LEASE_SPARE_SECONDS, Settings
from portal_graph.db import models
from portal_graph.db.outage import database_unavailable, describe_outage
from portal_graph.db.tenancy import SystemContext, system_tenancy
from portal_graph.events import EventKind, publish
from portal_graph.mail import repository as mail_repo
from portal_graph.mail import templates
from portal_graph.mail.secretbox import SecretBox
from portal_graph.mail.transport import Transport
from portal_graph.observability.metrics import DATABASE_UNAVAILABLE
from portal_graph.scope import admin_scope

logger = logging.getLogger("portal_graph.mail")

MAX_RETRY_SECONDS = 3600.0
JITTER = 0.1  # up to +10%, so emails that failed together do not all retry in the same instant
MAX_ERROR_LENGTH = 300


def retry_delay(
    attempts: int, base_seconds: float, *, rand: Callable[[], float] = random.random
) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling, jittered, capped."""
    exponential = base_seconds * 2 ** min(attempts - 1, 30)
    return min(MAX_RETRY_SECONDS, exponential * (1 + JITTER * rand()))


def describe_error(error: BaseException, secret: str | None) -> str:
    """A short, secret-free reason for `last_error` (a server may echo what it was sent)."""
    text = f"{type(error).__name__}: {error}".strip()
    if secret:
        text = text.replace(secret, "[link]")
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def message_id_for(email: models.OutboxEmail, from_addr: str) -> str:
    domain = parseaddr(from_addr)[1].rpartition("@")[2] or "portal-graph.invalid"
    return f"<{email.id}@{domain}>"


@dataclass(frozen=True)
class Outcome:
    """What happened to one leased email (error None: accepted), until the database has it."""

    claim: mail_repo.Claim
    email: models.OutboxEmail
    error: str | None


class OutboxWorker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[Any],
        settings: Settings,
        box: SecretBox,
        transport: Transport,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._box = box
        self._transport = transport
        self._stop: asyncio.Event | None = None
        # Known here, not yet in the database (it went away after the send).
        self._unrecorded: list[Outcome] = []

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; the email being sent when it is set is finished first."""
        self._stop = stop
        logger.info("outbox worker started (%r)", self._transport)
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception as error:
                # A database or transport outage must not end the loop: try again next poll.
                if not database_unavailable(error):
                    logger.exception("outbox worker pass failed")
                else:
                    DATABASE_UNAVAILABLE.labels("outbox_worker").inc()
                    logger.warning("outbox worker: database unavailable, will try again "
                                   "(%d outcomes to record): %s",
                                   len(self._unrecorded), describe_outage(error))
                sent = 0
            if sent:
                continue  # there may be more due right now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._settings.outbox_poll_seconds)
        logger.info("outbox worker stopped")

    async def run_once(self, batch: int = 20) -> int:
        """Send the due emails this worker can claim (at most `batch`); returns the number sent.

        Raises when the database is away at the start or at the end of the pass; outcomes it
        could not record are kept and recorded first by the next pass.
        """
        await self._record_outcomes()
        lease = _Lease(self._settings)
        async with self._system_session() as session, session.begin():
            claim = await mail_repo.claim_due(session, batch, lease.seconds)
        waiting, sent, database_away = list(claim.emails), 0, False
        try:
            while waiting and not self._stopping():
                if lease.running_short():
                    waiting = await self._renew(lease, claim, waiting)
                    if not waiting:
                        break
                outcome = await self._attempt(claim, waiting.pop(0))
                sent += outcome.error is None
                self._unrecorded.append(outcome)
                if not database_away:
                    database_away = not await self._record_outcomes(ride_out_outage=True)
        finally:
            if waiting:  # stopping: let another worker have them now rather than at expiry
                await self._release(claim, waiting)
        await self._record_outcomes()
        return sent

    def _system_session(self) -> AsyncSession:
        """Due emails belong to every organization: the OUTBOX system context."""
        return self._sessionmaker(**system_tenancy(SystemContext.OUTBOX))  # type: ignore[no-any-return]

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _renew(self, lease: _Lease, claim: mail_repo.Claim,
                     emails: list[models.OutboxEmail]) -> list[models.OutboxEmail]:
        started = time.monotonic()
        async with self._system_session() as session, session.begin():
            kept = await mail_repo.renew(session, claim, emails, lease.seconds)
        lease.renewed(started)
        return [email for email in emails if email.id in kept]

    async def _release(self, claim: mail_repo.Claim, emails: list[models.OutboxEmail]) -> None:
        try:
            async with self._system_session() as session, session.begin():
                await mail_repo.release(session, claim, emails)
        except Exception as error:
            if not database_unavailable(error):
                raise
            # The leases run out by themselves.

    async def _attempt(self, claim: mail_repo.Claim, email: models.OutboxEmail) -> Outcome:
        if email.attempts >= self._settings.outbox_max_attempts:
            # Only interrupted sends got it here (see mail_repo.claim_due): stop trying.
            return Outcome(claim, email, f"gave up: {email.attempts} sends were interrupted")
        secret: str | None = None
        try:
            if email.secret_ciphertext is not None:
                secret = self._box.decrypt(email.secret_ciphertext)
            await self._transport.send(self._compose(email, secret))
        except Exception as error:
            return Outcome(claim, email, describe_error(error, secret))
        return Outcome(claim, email, None)

    async def _record_outcomes(self, *, ride_out_outage: bool = False) -> bool:
        """Record the outcomes not yet recorded, in one transaction; with `ride_out_outage`,
        a database outage keeps them for later and returns False instead of raising."""
        if not self._unrecorded:
            return True
        outcomes = list(self._unrecorded)
        try:
            async with self._system_session() as session, session.begin():
                recorded = [await self._record(session, outcome) for outcome in outcomes]
        except Exception as error:
            if ride_out_outage and database_unavailable(error):
                return False
            raise
        del self._unrecorded[: len(outcomes)]
        for outcome, status in zip(outcomes, recorded, strict=True):
            self._log(outcome, status)
        return True

    async def _record(self, session: AsyncSession,
                      outcome: Outcome) -> models.OutboxStatus | None:
        claim, email = outcome.claim, outcome.email
        if outcome.error is None:
            sent = await mail_repo.mark_sent(session, claim, email)
            status = models.OutboxStatus.SENT if sent else None
        else:
            status = await mail_repo.mark_failed(
                session,
                claim,
                email,
                error=outcome.error,
                max_attempts=self._settings.outbox_max_attempts,
                retry_in_seconds=retry_delay(email.attempts + 1,
                                             self._settings.outbox_backoff_seconds),
            )
        if email.invitation_id is not None and status in FINAL:
            await _invitation_email_settled(session, email, status)
        return status

    @staticmethod
    def _log(outcome: Outcome, status: models.OutboxStatus | None) -> None:
        email = outcome.email
        if status is None:
            # Only when the lease ran out before the record: another worker has the email now.
            logger.warning("outbox email %s: lease lost before its outcome (%s) was recorded; "
                           "another worker may send it again (same Message-ID)",
                           email.id, "sent" if outcome.error is None else outcome.error)
        elif outcome.error is None:
            logger.info("outbox email %s sent (%s)", email.id, email.template)
        else:
            log = logger.error if status is models.OutboxStatus.FAILED else logger.warning
            log("outbox email %s attempt %d failed (%s): %s",
                email.id, email.attempts + 1, status.value, outcome.error)

    def _compose(self, email: models.OutboxEmail, secret: str | None) -> EmailMessage:
        rendered = templates.render(email.template, email.params, secret)
        from_addr = self._settings.smtp_from
        return templates.build_message(
            rendered, from_addr, email.to_address, message_id=message_id_for(email, from_addr)
        )


class _Lease:
    """The worker's own view of its lease, on its monotonic clock.

    Started before the claim statement (and each renewal) was sent, so it ends no later than the
    expiry PostgreSQL wrote, which is counted from when the statement ran.
    """

    def __init__(self, settings: Settings) -> None:
        self.seconds = settings.outbox_lease_seconds
        # What must be left before a send: the longest send, then time to record it.
        self._needed = settings.smtp_message_timeout_seconds + LEASE_SPARE_SECONDS
        self._ends = time.monotonic() + self.seconds

    def running_short(self) -> bool:
        return time.monotonic() + self._needed > self._ends

    def renewed(self, started: float) -> None:
        self._ends = started + self.seconds


FINAL = (models.OutboxStatus.SENT, models.OutboxStatus.FAILED)


async def _invitation_email_settled(session: AsyncSession, email: models.OutboxEmail,
                                    status: models.OutboxStatus) -> None:
    """An invitation's email went out or was given up on: its `emailStatus` changed."""
    assert email.invitation_id is not None
    scope = admin_scope(email.organization_id)
    await publish(session, scope, EventKind.INVITATION_UPDATED, "Invitation", email.invitation_id)
    if status is models.OutboxStatus.FAILED:
        await publish(session, scope, EventKind.INVITATION_EMAIL_FAILED, "Invitation",
                      email.invitation_id)
