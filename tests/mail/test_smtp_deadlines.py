"""SMTP with deadlines: connecting (up to the greeting), each command, and the whole message.

A server that accepts the connection and then never answers costs one counted attempt and a
recorded error, and no database transaction waits on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import aiosmtplib
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal_graph.config import ConfigurationError, Settings, load_settings
from portal_graph.db import models
from portal_graph.mail.secretbox import SecretBox
from portal_graph.mail.templates import RenderedEmail, build_message
from portal_graph.mail.transport import SmtpDeadlines, SmtpTransport, transport_from_settings
from portal_graph.mail.worker import OutboxWorker
from tests.mail.mail_support import CollectingHandler, HungSmtpServer, MailDatabase, SmtpServer

MESSAGE = build_message(RenderedEmail(subject="Hello", text="Hi\n", html="<p>Hi</p>"),
                        "portal@example.com", "ana@example.com",
                        message_id="<0192-abc@example.com>")
OPEN_TRANSACTIONS = text(
    "SELECT coalesce(application_name, '') || ': ' || state FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL")


class SlowToAccept(CollectingHandler):
    """Answers every command at once, but takes `seconds` to accept the message."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.seconds)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
async def hung_smtp() -> AsyncIterator[HungSmtpServer]:
    server = HungSmtpServer()
    await server.start()
    yield server
    await server.stop()


async def test_a_hung_smtp_server_costs_one_counted_attempt_and_holds_no_transaction(
    db: MailDatabase, organization_id: UUID, sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings, box: SecretBox, engine: AsyncEngine, hung_smtp: HungSmtpServer,
) -> None:
    # given a queued email and an SMTP server that accepts connections and never answers
    email_id = await db.queue_invitation_email(organization_id)
    tuned = settings.model_copy(update={
        "smtp_url": hung_smtp.url, "smtp_connect_timeout_seconds": 1.0,
        "smtp_command_timeout_seconds": 1.0, "smtp_message_timeout_seconds": 2.0})
    worker = OutboxWorker(sessionmaker, tuned, box, transport_from_settings(tuned))

    # when the worker sends, and we look at the database while it waits
    sending = asyncio.create_task(worker.run_once())
    await asyncio.wait_for(hung_smtp.connected.wait(), timeout=10)
    async with engine.connect() as conn:
        open_while_waiting = list((await conn.execute(OPEN_TRANSACTIONS)).scalars())
    sent = await sending

    # then
    row = await db.load_email(organization_id, email_id)
    assert open_while_waiting == []
    assert sent == 0
    assert (row.status, row.attempts, row.lease_token) == (models.OutboxStatus.QUEUED, 1, None)
    assert row.last_error == ("SMTPConnectTimeoutError: Timed out waiting for server ready "
                              "message")


async def test_a_server_that_never_greets_fails_the_send_at_the_connect_deadline(
    hung_smtp: HungSmtpServer,
) -> None:
    transport = SmtpTransport(hung_smtp.url, SmtpDeadlines(connect=0.3, command=30, message=30))

    with pytest.raises(aiosmtplib.SMTPConnectTimeoutError):
        await transport.send(MESSAGE)


async def test_a_message_the_server_is_slow_to_accept_fails_at_the_message_deadline() -> None:
    server = SmtpServer()
    server.handler = SlowToAccept(seconds=3)
    server.start()
    transport = SmtpTransport(server.url, SmtpDeadlines(connect=5, command=30, message=0.5))
    try:
        with pytest.raises(aiosmtplib.SMTPTimeoutError) as failure:
            await transport.send(MESSAGE)
    finally:
        server.stop()

    assert str(failure.value) == "no answer within the 0.5 s message deadline"


def test_the_deadlines_come_from_the_settings(settings: Settings) -> None:
    tuned = settings.model_copy(update={
        "smtp_url": "smtp://mail.example.com:2525", "smtp_connect_timeout_seconds": 3.0,
        "smtp_command_timeout_seconds": 7.0, "smtp_message_timeout_seconds": 20.0})

    transport = transport_from_settings(tuned)

    assert isinstance(transport, SmtpTransport)
    assert transport.deadlines == SmtpDeadlines(connect=3.0, command=7.0, message=20.0)


def test_by_default_every_step_has_a_deadline() -> None:
    assert SmtpDeadlines.defaults() == SmtpDeadlines(connect=10, command=30, message=60)


def test_a_lease_shorter_than_a_send_and_its_record_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        load_settings(smtp_message_timeout_seconds=60, outbox_lease_seconds=80)
