"""The worker delivers queued emails over a real SMTP server, once each, and retries when down."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

from portal_graph.db import models
from portal_graph.mail.worker import OutboxWorker
from tests.mail.mail_support import MailDatabase, SmtpServer

LINK = "http://portal.test/accept/s3cr3t-token"

WorkerFactory = Callable[..., OutboxWorker]


async def test_a_queued_invitation_arrives_with_plain_text_and_html_parts_and_the_link(
    db: MailDatabase, organization_id: UUID, smtp_server: SmtpServer, make_worker: WorkerFactory
) -> None:
    # given
    await db.queue_invitation_email(organization_id, link=LINK, to_address="ana@example.com")

    # when
    sent = await make_worker().run_once()

    # then
    assert sent == 1
    [message] = smtp_server.messages
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Your invitation to the Acme Field Services customer portal"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and LINK in plain.get_content()
    assert html is not None and f'href="{LINK}"' in html.get_content()


async def test_the_link_is_erased_from_the_outbox_once_the_email_is_sent(
    db: MailDatabase, organization_id: UUID, smtp_server: SmtpServer, make_worker: WorkerFactory
) -> None:
    # given
    email_id = await db.queue_invitation_email(organization_id, link=LINK)

    # when
    await make_worker().run_once()

    # then
    row = await db.load_email(organization_id, email_id)
    assert row.status is models.OutboxStatus.SENT
    assert row.secret_ciphertext is None
    assert row.attempts == 1
    assert row.sent_at is not None
    assert row.last_error is None


async def test_an_email_not_yet_due_waits(
    db: MailDatabase, organization_id: UUID, smtp_server: SmtpServer, make_worker: WorkerFactory
) -> None:
    # given an email that failed once and is waiting out its backoff
    smtp_server.stop()
    await db.queue_invitation_email(organization_id)
    await make_worker(outbox_backoff_seconds=60).run_once()
    smtp_server.start()

    # when
    sent = await make_worker().run_once()

    # then
    assert sent == 0
    assert smtp_server.messages == []


async def test_while_smtp_is_down_the_email_stays_queued_with_its_attempt_counted_and_deferred(
    db: MailDatabase, organization_id: UUID, smtp_server: SmtpServer, make_worker: WorkerFactory
) -> None:
    # given
    smtp_server.stop()
    email_id = await db.queue_invitation_email(organization_id, link=LINK)
    before = await db.now()

    # when
    sent = await make_worker(outbox_backoff_seconds=30).run_once()

    # then
    assert sent == 0
    row = await db.load_email(organization_id, email_id)
    assert row.status is models.OutboxStatus.QUEUED
    assert row.attempts == 1
    assert row.secret_ciphertext is not None
    assert row.last_error is not None and "SMTP" in row.last_error
    assert LINK not in row.last_error
    # first retry after the base backoff, plus at most 10% jitter
    delay = (row.next_attempt_at - before).total_seconds()
    assert 30 <= delay <= 34


async def test_the_backoff_doubles_with_each_failed_attempt(
    db: MailDatabase, organization_id: UUID, smtp_server: SmtpServer, make_worker: WorkerFactory
) -> None:
    # given an email that already failed once
    smtp_server.stop()
    email_id = await db.queue_invitation_email(organization_id)
    worker = make_worker(outbox_backoff_seconds=30)
    await worker.run_once()
    await db.make_everything_due()
    before = await db.now()

    # when
    await worker.run_once()

    # then
    row = await db.load_email(organization_id, email_id)
    assert row.attempts == 2
    assert 60 <= (row.next_attempt_at - before).total_seconds() <= 67


async def test_once_smtp_is_back_the_queued_email_is_delivered_exactly_once(
    db: MailDatabase, organization_id: UUID, smtp_server: SmtpServer, make_worker: WorkerFactory
) -> None:
    # given an email that failed twice while the server was down
    smtp_server.stop()
    email_id = await db.queue_invitation_email(organization_id, link=LINK)
    worker = make_worker()
    await worker.run_once()
    await db.make_everything_due()
    await worker.run_once()

    # when the server is back and the retry is due
    smtp_server.start()
    await db.make_everything_due()
    first = await worker.run_once()
    again = await worker.run_once()

    # then
    assert (first, again) == (1, 0)
    [message] = smtp_server.messages
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None and LINK in plain.get_content()
    row = await db.load_email(organization_id, email_id)
    assert row.status is models.OutboxStatus.SENT
    assert row.attempts == 3
    assert row.secret_ciphertext is None


async def test_after_max_attempts_the_email_is_failed_and_its_link_erased(
    db: MailDatabase, organization_id: UUID, smtp_server: SmtpServer, make_worker: WorkerFactory
) -> None:
    # given
    smtp_server.stop()
    email_id = await db.queue_invitation_email(organization_id)
    worker = make_worker(outbox_max_attempts=3)

    # when
    for _ in range(3):
        await worker.run_once()
        await db.make_everything_due()

    # then
    row = await db.load_email(organization_id, email_id)
    assert row.status is models.OutboxStatus.FAILED
    assert row.attempts == 3
    assert row.secret_ciphertext is None
    assert row.last_error
    smtp_server.start()
    assert await worker.run_once() == 0
    assert smtp_server.messages == []


async def test_two_workers_running_at_once_deliver_each_email_exactly_once(
    db: MailDatabase, organization_id: UUID, smtp_server: SmtpServer, make_worker: WorkerFactory
) -> None:
    # given
    count = 60
    email_ids = {
        await db.queue_invitation_email(organization_id, link=f"{LINK}-{n}") for n in range(count)
    }
    first, second = make_worker(), make_worker()

    # when both poll concurrently, each pass in its own session and transaction
    totals = [0, 0]
    while True:
        sent = await asyncio.gather(first.run_once(batch=7), second.run_once(batch=7))
        totals = [totals[0] + sent[0], totals[1] + sent[1]]
        if sent == [0, 0]:
            break

    # then
    message_ids = [str(message["Message-ID"]) for message in smtp_server.messages]
    assert len(message_ids) == count
    assert sorted(message_ids) == sorted({*message_ids})
    assert {UUID(mid.strip("<>").partition("@")[0]) for mid in message_ids} == email_ids
    assert sum(totals) == count
    assert totals[0] > 0 and totals[1] > 0  # both really worked in parallel
