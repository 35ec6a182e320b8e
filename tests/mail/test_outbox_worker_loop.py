"""The worker's polling loop: keeps going through failures, stops cleanly, keeps links secret."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal_graph.config import Settings
from portal_graph.db import models
from portal_graph.mail import outbox
from portal_graph.mail.secretbox import SecretBox
from portal_graph.mail.worker import OutboxWorker, describe_error, retry_delay
from portal_graph.observability.metrics import DATABASE_UNAVAILABLE
from portal_graph.scope import admin_scope
from tests.mail.mail_support import MailDatabase, SmtpServer

LINK = "http://portal.test/accept/s3cr3t-token"

WorkerFactory = Callable[..., OutboxWorker]


class RecordingTransport:
    """Accepts every message; runs `on_send` first so a test can act mid-batch."""

    def __init__(self, on_send: Callable[[], None] = lambda: None) -> None:
        self.sent: list[EmailMessage] = []
        self.on_send = on_send

    async def send(self, message: EmailMessage) -> None:
        self.on_send()
        self.sent.append(message)


class EchoingTransport:
    """A server that quotes the message back in its error, as some do."""

    async def send(self, message: EmailMessage) -> None:
        plain = message.get_body(preferencelist=("plain",))
        assert plain is not None
        raise RuntimeError(f"550 rejected: {plain.get_content()}")


async def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(500):  # ten seconds
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


async def test_run_sends_emails_queued_while_it_polls_and_returns_when_stopped(
    db: MailDatabase, organization_id: UUID, smtp_server: SmtpServer, make_worker: WorkerFactory
) -> None:
    # given a running worker
    stop = asyncio.Event()
    task = asyncio.create_task(make_worker(outbox_poll_seconds=0.05).run(stop))

    # when an email is queued, and then the worker is told to stop
    await db.queue_invitation_email(organization_id, link=LINK)
    await wait_for(lambda: len(smtp_server.messages) == 1)
    stop.set()

    # then
    await asyncio.wait_for(task, timeout=5)
    assert len(smtp_server.messages) == 1


async def test_run_stops_promptly_while_waiting_for_the_next_poll(
    make_worker: WorkerFactory, smtp_server: SmtpServer
) -> None:
    # given a worker idle between polls an hour apart
    stop = asyncio.Event()
    task = asyncio.create_task(make_worker(outbox_poll_seconds=3600).run(stop))
    await asyncio.sleep(0.1)

    # when
    stop.set()

    # then
    await asyncio.wait_for(task, timeout=2)


def flaky(sessionmaker: async_sessionmaker[AsyncSession], error: Exception) -> Any:
    """A sessionmaker whose first call fails with `error`; every other call works."""
    calls = 0

    def make_session(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise error
        return sessionmaker(**kwargs)

    return make_session


async def run_until_sent(worker: OutboxWorker, transport: RecordingTransport) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await wait_for(lambda: len(transport.sent) == 1)
    stop.set()
    await asyncio.wait_for(task, timeout=5)


async def test_a_database_outage_costs_a_pass_and_one_warning_line_and_is_counted(
    db: MailDatabase,
    organization_id: UUID,
    app_sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    box: SecretBox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a database that refuses the worker's first connection
    await db.queue_invitation_email(organization_id)
    transport = RecordingTransport()
    outage = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
    worker = OutboxWorker(flaky(app_sessionmaker, outage),
                          settings.model_copy(update={"outbox_poll_seconds": 0.05}), box,
                          transport)
    counted = DATABASE_UNAVAILABLE.labels("outbox_worker")
    before = counted._value.get()

    # when
    await run_until_sent(worker, transport)

    # then the next pass delivered, and the outage was one warning line without a traceback
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in warnings] == [
        ("WARNING", "outbox worker: database unavailable, will try again (0 outcomes to "
                    "record): ConnectionRefusedError: [Errno 111] Connect call failed "
                    "('127.0.0.1', 5432)", None)]
    assert counted._value.get() == before + 1


async def test_a_failure_that_is_not_an_outage_is_an_error_with_its_traceback(
    db: MailDatabase,
    organization_id: UUID,
    app_sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    box: SecretBox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a pass that fails with a bug
    await db.queue_invitation_email(organization_id)
    transport = RecordingTransport()
    worker = OutboxWorker(flaky(app_sessionmaker, KeyError("a bug")),
                          settings.model_copy(update={"outbox_poll_seconds": 0.05}), box,
                          transport)

    # when
    await run_until_sent(worker, transport)

    # then
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, r.getMessage()) for r in errors] == [
        ("ERROR", "outbox worker pass failed")]
    assert errors[0].exc_info is not None and errors[0].exc_info[0] is KeyError


async def test_stopping_mid_batch_finishes_the_email_in_hand_and_leaves_the_rest_queued(
    db: MailDatabase,
    organization_id: UUID,
    app_sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    box: SecretBox,
) -> None:
    # given three due emails and a stop requested while the first is being sent
    ids = [await db.queue_invitation_email(organization_id, link=f"{LINK}-{n}") for n in range(3)]
    stop = asyncio.Event()
    transport = RecordingTransport(on_send=stop.set)
    worker = OutboxWorker(app_sessionmaker, settings, box, transport)

    # when
    await worker.run(stop)

    # then
    assert len(transport.sent) == 1
    rows = [await db.load_email(organization_id, email_id) for email_id in ids]
    assert [row.status for row in rows].count(models.OutboxStatus.SENT) == 1
    untouched = [row for row in rows if row.status is models.OutboxStatus.QUEUED]
    assert len(untouched) == 2
    assert all(row.attempts == 0 and row.secret_ciphertext for row in untouched)
    assert all(row.lease_token is None for row in rows)  # released: due for any worker now


async def test_a_failure_quoting_the_message_never_puts_the_link_in_last_error(
    db: MailDatabase,
    organization_id: UUID,
    app_sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    box: SecretBox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given
    email_id = await db.queue_invitation_email(organization_id, link=LINK)
    worker = OutboxWorker(app_sessionmaker, settings, box, EchoingTransport())

    # when
    await worker.run_once()

    # then
    row = await db.load_email(organization_id, email_id)
    assert row.last_error is not None and row.last_error.startswith("RuntimeError: 550 rejected")
    assert "[link]" in row.last_error
    assert LINK not in row.last_error
    assert len(row.last_error) <= 300
    assert LINK not in caplog.text


async def test_an_email_with_an_unknown_template_is_retried_and_reported(
    db: MailDatabase,
    organization_id: UUID,
    sessionmaker: async_sessionmaker[AsyncSession],
    app_sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    box: SecretBox,
) -> None:
    # given
    async with sessionmaker() as session, session.begin():
        row = await outbox.enqueue(
            session, admin_scope(organization_id), template="no-such-template",
            to_address="ana@example.com", params={}, secret=None, box=box,
        )
    transport = RecordingTransport()

    # when
    sent = await OutboxWorker(app_sessionmaker, settings, box, transport).run_once()

    # then
    assert sent == 0
    stored = await db.load_email(organization_id, row.id)
    assert stored.last_error == "TemplateError: unknown template 'no-such-template'"
    assert stored.status is models.OutboxStatus.QUEUED


def test_retry_delay_doubles_from_the_base_backoff() -> None:
    assert [retry_delay(n, 2.0, rand=lambda: 0.0) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]


def test_retry_delay_adds_at_most_ten_percent_jitter() -> None:
    assert retry_delay(3, 2.0, rand=lambda: 0.999) == pytest.approx(8 * 1.0999)


def test_retry_delay_is_capped_at_one_hour() -> None:
    assert retry_delay(20, 2.0, rand=lambda: 0.999) == 3600
    assert retry_delay(1000, 2.0) == 3600


def test_describe_error_is_short_and_one_line() -> None:
    described = describe_error(OSError("line one\nline two " + "x" * 1000), None)
    assert described.startswith("OSError: line one line two")
    assert len(described) == 300
