"""Helpers for the mail tests: a real SMTP server on 127.0.0.1 and database factories."""

from __future__ import annotations

import asyncio
import email
import email.policy
import secrets
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID

from aiosmtpd.controller import Controller
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal_graph.db import models
from portal_graph.mail import outbox, templates
from portal_graph.mail.secretbox import SecretBox
from portal_graph.scope import admin_scope


class CollectingHandler:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()  # aiosmtpd runs in its own thread

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server that a test can take down and bring back on the same port."""

    def __init__(self) -> None:
        self.handler = CollectingHandler()
        self.port = _free_port()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class HungSmtpServer:
    """Accepts TCP connections and never says a word (a wedged relay, a black-holing proxy)."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"smtp://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.append(writer)
            self.connected.set()

        self._server = await asyncio.start_server(silent, "127.0.0.1", 0)

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


INVITATION_PARAMS: dict[str, Any] = {
    "organization_name": "Acme Field Services",
    "customer_names": ["Northside Council", "Harbour Works"],
    "expires_at": "2026-11-23T14:05:00+00:00",
    "invitee_name": "Ana",
    "inviter_name": "Bob",
    "kind": "invite",
}

MAKE_EVERYTHING_DUE = text(
    "UPDATE email_outbox SET next_attempt_at = now() - interval '1 second' WHERE status = 'QUEUED'"
)


class MailDatabase:
    """Async factories and readers for outbox tests, each in its own committed transaction."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self.sessionmaker = sessionmaker
        self.box = box

    async def add_organization(self, *, name: str = "Acme Field Services") -> UUID:
        async with self.sessionmaker() as session, session.begin():
            organization = models.Organization(name=name, invitation_ttl_days=7)
            session.add(organization)
            await session.flush()
            return organization.id

    async def add_invitation(self, organization_id: UUID, **overrides: Any) -> UUID:
        values: dict[str, Any] = {
            "organization_id": organization_id,
            "email": "invitee@example.com",
            "email_normalized": "invitee@example.com",
            "state": models.InvitationState.PENDING,
            "token_hash": secrets.token_bytes(32),
            "expires_at": datetime.now(UTC) + timedelta(days=7),
        }
        values.update(overrides)
        async with self.sessionmaker() as session, session.begin():
            invitation = models.Invitation(**values)
            session.add(invitation)
            await session.flush()
            return invitation.id

    async def queue_invitation_email(
        self,
        organization_id: UUID,
        *,
        link: str = "http://portal.test/accept/tok3n",
        to_address: str = "invitee@example.com",
        invitation_id: UUID | None = None,
        **params: Any,
    ) -> UUID:
        async with self.sessionmaker() as session, session.begin():
            row = await outbox.enqueue(
                session,
                admin_scope(organization_id),
                template=templates.INVITATION,
                to_address=to_address,
                params={**INVITATION_PARAMS, **params},
                secret=link,
                box=self.box,
                invitation_id=invitation_id,
            )
            return row.id

    async def load_email(self, organization_id: UUID, email_id: UUID) -> models.OutboxEmail:
        async with self.sessionmaker() as session:
            row = await session.get(models.OutboxEmail, (organization_id, email_id))
            assert row is not None
            return row

    async def count_emails(self) -> int:
        async with self.sessionmaker() as session:
            return (await session.execute(text("SELECT count(*) FROM email_outbox"))).scalar_one()

    async def make_everything_due(self) -> None:
        """Stands in for waiting out the backoff."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(MAKE_EVERYTHING_DUE)

    async def now(self) -> datetime:
        async with self.sessionmaker() as session:
            return (await session.execute(text("SELECT clock_timestamp()"))).scalar_one()
