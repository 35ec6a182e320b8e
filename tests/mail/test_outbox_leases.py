"""Leases: a worker claims an email and commits the claim before it talks to SMTP, sends outside
any transaction, and records the outcome only while the claim is still its own. Other workers
skip a live lease whatever happens to connections; a lease that ran out (its worker died
mid-send) is claimed again, and the email goes out with the same Message-ID."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any
from uuid import UUID

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal_graph.config import Settings
from portal_graph.db import models
from portal_graph.db.tenancy import SystemContext, system_tenancy
from portal_graph.mail import repository as mail_repo
from portal_graph.mail.secretbox import SecretBox
from portal_graph.mail.worker import OutboxWorker
from portal_graph.scope import admin_scope
from tests.mail.mail_support import MailDatabase

LEASE_LEFT = text(
    "SELECT lease_token, extract(epoch FROM lease_expires_at - clock_timestamp()) "
    "FROM email_outbox WHERE id = :id")
OPEN_TRANSACTIONS = text(
    "SELECT coalesce(application_name, '') || ': ' || state FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL")
AS_A_WORKER = system_tenancy(SystemContext.OUTBOX)  # the repository's worker functions need it
EXPIRE_EVERY_LEASE = text(
    "UPDATE email_outbox SET lease_expires_at = now() - interval '1 second' "
    "WHERE lease_token IS NOT NULL")


class HookedTransport:
    """Accepts every message, after awaiting `on_send(message)`."""

    def __init__(self, on_send: Callable[[EmailMessage], Awaitable[None]] | None = None) -> None:
        self.sent: list[EmailMessage] = []
        self.on_send = on_send

    async def send(self, message: EmailMessage) -> None:
        if self.on_send is not None:
            await self.on_send(message)
        self.sent.append(message)


class SwitchableDatabase:
    """A sessionmaker whose database a test can take away (connections refused) and give back."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.down = False

    def __call__(self, **kwargs: Any) -> Any:
        if self.down:
            raise ConnectionRefusedError(111, "Connect call failed")
        return self.sessionmaker(**kwargs)


async def lease_left(engine: AsyncEngine, email_id: UUID) -> tuple[UUID | None, float | None]:
    async with engine.connect() as conn:
        token, seconds = (await conn.execute(LEASE_LEFT, {"id": email_id})).one()
        return token, None if seconds is None else float(seconds)


async def open_transactions(engine: AsyncEngine) -> list[str]:
    """The other connections to this database that are inside a transaction right now."""
    async with engine.connect() as conn:
        return list((await conn.execute(OPEN_TRANSACTIONS)).scalars())


async def claim_as_another_worker(sessionmaker: async_sessionmaker[AsyncSession],
                                  lease_seconds: float = 60) -> mail_repo.Claim:
    async with sessionmaker(**AS_A_WORKER) as session, session.begin():
        return await mail_repo.claim_due(session, 10, lease_seconds)


async def test_the_claim_is_committed_before_the_send_and_no_transaction_waits_on_smtp(
    db: MailDatabase, organization_id: UUID, sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings, box: SecretBox, engine: AsyncEngine,
) -> None:
    # given
    email_id = await db.queue_invitation_email(organization_id)
    during_send: list[Any] = []

    async def look(message: EmailMessage) -> None:
        during_send.append((await lease_left(engine, email_id), await open_transactions(engine)))

    # when
    sent = await OutboxWorker(sessionmaker, settings, box, HookedTransport(look)).run_once()

    # then, while the message was with SMTP, the lease was visible to all and nothing was open
    [((token, seconds), transactions)] = during_send
    assert token is not None and seconds is not None and seconds > 0
    assert transactions == []
    row = await db.load_email(organization_id, email_id)
    assert (sent, row.status, row.attempts, row.lease_token, row.lease_expires_at) == (
        1, models.OutboxStatus.SENT, 1, None, None)


async def test_another_worker_skips_an_email_whose_lease_is_live(
    db: MailDatabase, organization_id: UUID, sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings, box: SecretBox,
) -> None:
    # given an email another worker is sending
    email_id = await db.queue_invitation_email(organization_id)
    claim = await claim_as_another_worker(sessionmaker)
    transport = HookedTransport()

    # when
    sent = await OutboxWorker(sessionmaker, settings, box, transport).run_once()

    # then
    row = await db.load_email(organization_id, email_id)
    assert (sent, transport.sent) == (0, [])
    assert (row.status, row.attempts, row.lease_token) == (
        models.OutboxStatus.QUEUED, 0, claim.token)


async def test_an_email_whose_worker_died_mid_send_is_sent_again_with_the_same_message_id(
    db: MailDatabase, organization_id: UUID, sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings, box: SecretBox,
) -> None:
    # given an email claimed by a worker that then died, and its lease run out
    email_id = await db.queue_invitation_email(organization_id)
    dead = await claim_as_another_worker(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await session.execute(EXPIRE_EVERY_LEASE)
    transport = HookedTransport()

    # when
    sent = await OutboxWorker(sessionmaker, settings, box, transport).run_once()

    # then
    [message] = transport.sent
    assert sent == 1
    assert message["Message-ID"] == f"<{email_id}@localhost>"
    assert (await db.load_email(organization_id, email_id)).status is models.OutboxStatus.SENT
    # and had the first worker lived to record its send, its record would not apply
    async with sessionmaker(**AS_A_WORKER) as session, session.begin():
        assert await mail_repo.mark_sent(session, dead, dead.emails[0]) is False


async def test_an_interrupted_send_counts_as_an_attempt(
    db: MailDatabase, organization_id: UUID, sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # given an email whose worker died mid-send, its lease run out
    email_id = await db.queue_invitation_email(organization_id)
    await claim_as_another_worker(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await session.execute(EXPIRE_EVERY_LEASE)

    # when another worker claims it
    claim = await claim_as_another_worker(sessionmaker)

    # then the interrupted send is counted
    assert [email.attempts for email in claim.emails] == [1]
    assert (await db.load_email(organization_id, email_id)).attempts == 1


async def test_an_email_interrupted_as_often_as_the_attempt_limit_is_given_up_unsent(
    db: MailDatabase, organization_id: UUID, sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings, box: SecretBox,
) -> None:
    # given an email that killed its worker mid-send as many times as attempts are allowed
    email_id = await db.queue_invitation_email(organization_id)
    for _ in range(settings.outbox_max_attempts):
        await claim_as_another_worker(sessionmaker)
        async with sessionmaker() as session, session.begin():
            await session.execute(EXPIRE_EVERY_LEASE)
    transport = HookedTransport()

    # when a worker claims it once more
    sent = await OutboxWorker(sessionmaker, settings, box, transport).run_once()

    # then it is not sent again but recorded as failed, its link erased
    email = await db.load_email(organization_id, email_id)
    assert (sent, transport.sent) == (0, [])
    assert email.status is models.OutboxStatus.FAILED
    assert email.last_error is not None and "interrupted" in email.last_error
    assert email.secret_ciphertext is None


async def test_a_worker_whose_lease_was_taken_over_records_nothing(
    db: MailDatabase, organization_id: UUID, sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # given a lease that ran out and was claimed by a second worker
    email_id = await db.queue_invitation_email(organization_id)
    first = await claim_as_another_worker(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await session.execute(EXPIRE_EVERY_LEASE)
    second = await claim_as_another_worker(sessionmaker)

    # when the first records a failed attempt
    async with sessionmaker(**AS_A_WORKER) as session, session.begin():
        recorded = await mail_repo.mark_failed(session, first, first.emails[0], error="late",
                                            max_attempts=5, retry_in_seconds=1)

    # then
    row = await db.load_email(organization_id, email_id)
    assert recorded is None
    # (the one attempt is the interrupted send, counted by the second claim; not "late")
    assert (row.attempts, row.last_error, row.lease_token) == (1, None, second.token)


async def test_a_send_the_database_missed_is_recorded_when_it_returns_and_never_repeated(
    db: MailDatabase, organization_id: UUID, sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings, box: SecretBox,
) -> None:
    # given a worker whose database goes away while it sends (the message is accepted)
    email_id = await db.queue_invitation_email(organization_id)
    database = SwitchableDatabase(sessionmaker)

    async def database_goes_away(message: EmailMessage) -> None:
        database.down = True

    first = HookedTransport(database_goes_away)
    worker = OutboxWorker(database, settings, box, first)  # type: ignore[arg-type]
    try:
        await worker.run_once()
        raise AssertionError("the pass should have failed to record its send")
    except ConnectionRefusedError:
        pass

    # when another worker polls meanwhile, and then the database comes back
    second = HookedTransport()
    sent_by_second = await OutboxWorker(sessionmaker, settings, box, second).run_once()
    database.down = False
    sent_on_return = await worker.run_once()

    # then the send was recorded, once, and nobody sent it again
    row = await db.load_email(organization_id, email_id)
    assert (len(first.sent), len(second.sent), sent_by_second, sent_on_return) == (1, 0, 0, 0)
    assert (row.status, row.attempts, row.lease_token) == (models.OutboxStatus.SENT, 1, None)


async def test_while_the_database_is_away_the_leased_batch_is_still_sent(
    db: MailDatabase, organization_id: UUID, sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings, box: SecretBox,
) -> None:
    # given three leased emails and a database that goes away during the first send
    ids = [await db.queue_invitation_email(organization_id, to_address=f"{n}@example.com")
           for n in range(3)]
    database = SwitchableDatabase(sessionmaker)

    async def database_goes_away(message: EmailMessage) -> None:
        database.down = True

    transport = HookedTransport(database_goes_away)
    worker = OutboxWorker(database, settings, box, transport)  # type: ignore[arg-type]

    # when
    try:
        await worker.run_once()
    except ConnectionRefusedError:
        pass
    database.down = False
    await worker.run_once()

    # then
    rows = [await db.load_email(organization_id, email_id) for email_id in ids]
    assert len(transport.sent) == 3
    assert [row.status for row in rows] == [models.OutboxStatus.SENT] * 3


async def test_before_each_send_the_lease_covers_the_message_deadline_and_the_record(
    db: MailDatabase, organization_id: UUID, sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings, box: SecretBox, engine: AsyncEngine,
) -> None:
    # given a lease only just long enough for one send, and sends that take a while
    ids = [await db.queue_invitation_email(organization_id, to_address=f"{n}@example.com")
           for n in range(3)]
    tuned = settings.model_copy(update={"outbox_lease_seconds": 31.0,
                                        "smtp_message_timeout_seconds": 1.0})
    left: list[float] = []

    async def slow_send(message: EmailMessage) -> None:
        email_id = UUID(str(message["Message-ID"]).strip("<>").partition("@")[0])
        left.append((await lease_left(engine, email_id))[1] or 0.0)
        await asyncio.sleep(0.4)

    # when
    sent = await OutboxWorker(sessionmaker, tuned, box, HookedTransport(slow_send)).run_once()

    # then each was renewed before its send: the deadline (1 s) and the spare (30 s) were left
    assert sent == len(ids)
    assert len(left) == 3 and min(left) > 30.5


async def test_discard_leaves_an_email_being_sent_alone_and_drops_one_whose_lease_ran_out(
    db: MailDatabase, organization_id: UUID, sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # given an invitation whose email is leased to a worker
    invitation_id = await db.add_invitation(organization_id)
    await db.queue_invitation_email(organization_id, invitation_id=invitation_id)
    await claim_as_another_worker(sessionmaker)

    # when its queued emails are discarded, before and after the lease runs out
    scope = admin_scope(organization_id)
    async with sessionmaker() as session, session.begin():
        while_leased = await mail_repo.discard_queued(session, scope, invitation_id)
        status = await mail_repo.latest_status_by_invitation(session, scope, [invitation_id])
    async with sessionmaker() as session, session.begin():
        await session.execute(EXPIRE_EVERY_LEASE)
        after_expiry = await mail_repo.discard_queued(session, scope, invitation_id)

    # then the leased one read QUEUED and was kept; once its worker is presumed dead, dropped
    assert (while_leased, status, after_expiry) == (
        0, {invitation_id: models.OutboxStatus.QUEUED}, 1)
    assert await db.count_emails() == 0


async def test_claiming_scans_only_due_rows_whatever_plan_postgresql_picks(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # given the claim statement as the worker sends it (a prepared statement)
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.startswith("WITH due"):
            sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with sessionmaker(**AS_A_WORKER) as session:  # rolled back
            await mail_repo.claim_due(session, 20, 120)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    [(statement, (token, lease, batch))] = sent

    # when PostgreSQL plans it generically (as it may after five runs), seq scans ruled out
    async with engine.connect() as conn:
        await conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        await conn.exec_driver_sql("SET enable_seqscan = off")
        await conn.exec_driver_sql(f"PREPARE claim AS {statement}")
        plan = "\n".join((await conn.exec_driver_sql(
            f"EXPLAIN EXECUTE claim('{token}', '{lease.total_seconds()} s', {batch})")).scalars())
        await conn.exec_driver_sql("DEALLOCATE claim")
        await conn.exec_driver_sql("RESET ALL")
        await conn.rollback()

    # then it reads due rows from their partial index, locking them SKIP LOCKED
    assert "Index Scan using ix_email_outbox_due on email_outbox" in plan
    assert "LockRows" in plan
    assert "FOR UPDATE SKIP LOCKED" in statement
