"""The outbox worker: sends due emails, retries with backoff, gives up after a limit.

Every server process may run one. A worker claims due rows with FOR UPDATE SKIP LOCKED and keeps
the locks until it has sent them and recorded the outcome, so two workers never send one email.
The price of holding the locks in one transaction: if a process dies mid-batch, the emails it
had already sent in that batch are sent again. SMTP offers no way to make a send and a commit
atomic; the Message-ID stays the same across attempts, so receivers that deduplicate by
Message-ID can drop the copy. If only the database goes away mid-batch (a restart, a
fail-over), the worker remembers what it sent and records that first once the database is
back, before it claims anything, so a database restart sends nothing twice. (Another process's
worker could claim such an email in the moment between the restart and that record; with one
worker, or workers that poll slower than the restart takes, it does not happen.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal_graph.config import Settings
from portal_graph.db import models
from portal_graph.db.tenancy import SystemContext, system_tenancy
from portal_graph.mail import outbox, templates
from portal_graph.mail.secretbox import SecretBox
from portal_graph.mail.transport import Transport

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
        # Sent, but the batch that would have recorded it never committed.
        self._unrecorded: dict[uuid.UUID, models.OutboxEmail] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; the email being sent when it is set is finished first."""
        self._stop = stop
        logger.info("outbox worker started (%r)", self._transport)
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception:
                # A database or transport outage must not end the loop: try again next poll.
                logger.exception("outbox worker pass failed")
                sent = 0
            if sent:
                continue  # there may be more due right now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._settings.outbox_poll_seconds)
        logger.info("outbox worker stopped")

    async def run_once(self, batch: int = 20) -> int:
        """Send the due emails this worker can claim (at most `batch`); returns the number sent."""
        if self._unrecorded:
            await self._record_unrecorded()  # raises while the database is still away
        delivered: list[uuid.UUID] = []
        async with self._system_session() as session, session.begin():
            for email in await outbox.claim_due(session, batch):
                if self._stopping():
                    break  # unclaimed on commit, untouched: another worker or the next run sends it
                if await self._deliver(session, email):
                    delivered.append(email.id)
        for email_id in delivered:  # committed: recorded for good
            self._unrecorded.pop(email_id, None)
        return len(delivered)

    def _system_session(self) -> AsyncSession:
        """Due emails belong to every organization: the OUTBOX system context."""
        return self._sessionmaker(**system_tenancy(SystemContext.OUTBOX))  # type: ignore[no-any-return]

    async def _record_unrecorded(self) -> None:
        async with self._system_session() as session, session.begin():
            for email in self._unrecorded.values():
                await outbox.mark_sent(session, email)
        logger.info("recorded %d emails sent before the database went away",
                    len(self._unrecorded))
        self._unrecorded.clear()

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _deliver(self, session: AsyncSession, email: models.OutboxEmail) -> bool:
        secret: str | None = None
        try:
            if email.secret_ciphertext is not None:
                secret = self._box.decrypt(email.secret_ciphertext)
            await self._transport.send(self._compose(email, secret))
        except Exception as error:
            reason = describe_error(error, secret)
            status = await outbox.mark_failed(
                session,
                email,
                error=reason,
                max_attempts=self._settings.outbox_max_attempts,
                retry_in_seconds=retry_delay(
                    email.attempts + 1, self._settings.outbox_backoff_seconds
                ),
            )
            log = logger.error if status is models.OutboxStatus.FAILED else logger.warning
            log("outbox email %s attempt %d failed (%s): %s",
                email.id, email.attempts + 1, status.value, reason)
            return False
        # Remembered apart from the session: a rollback expires the loaded row.
        self._unrecorded[email.id] = models.OutboxEmail(
            id=email.id, organization_id=email.organization_id, attempts=email.attempts)
        await outbox.mark_sent(session, email)
        logger.info("outbox email %s sent (%s)", email.id, email.template)
        return True

    def _compose(self, email: models.OutboxEmail, secret: str | None) -> EmailMessage:
        rendered = templates.render(email.template, email.params, secret)
        from_addr = self._settings.smtp_from
        return templates.build_message(
            rendered, from_addr, email.to_address, message_id=message_id_for(email, from_addr)
        )
