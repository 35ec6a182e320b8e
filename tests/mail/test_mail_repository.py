"""Outbox repository: what enqueue stores, and what admins and metrics read back."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal_graph.db import models
from portal_graph.db.tenancy import SystemContext, system_tenancy
from portal_graph.mail import outbox, templates
from portal_graph.mail import repository as mail_repo
from portal_graph.mail.secretbox import SecretBox
from portal_graph.mail.worker import OutboxWorker
from portal_graph.scope import admin_scope
from tests.mail.mail_support import INVITATION_PARAMS, MailDatabase, SmtpServer

LINK = "http://portal.test/accept/s3cr3t-token"

WorkerFactory = Callable[..., OutboxWorker]


async def test_enqueue_stores_a_due_queued_email_with_the_link_only_encrypted(
    db: MailDatabase, organization_id: UUID, box: SecretBox
) -> None:
    # given
    before = await db.now()

    # when
    email_id = await db.queue_invitation_email(organization_id, link=LINK)

    # then
    row = await db.load_email(organization_id, email_id)
    assert row.status is models.OutboxStatus.QUEUED
    assert row.attempts == 0
    assert row.next_attempt_at <= await db.now()
    assert row.next_attempt_at >= before
    assert row.secret_ciphertext is not None
    assert LINK.encode() not in row.secret_ciphertext
    assert LINK not in json.dumps(row.params)
    assert box.decrypt(row.secret_ciphertext) == LINK


async def test_enqueue_refuses_params_that_contain_the_secret(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: UUID, box: SecretBox
) -> None:
    async with sessionmaker() as session, session.begin():
        with pytest.raises(ValueError, match="must not contain the secret"):
            await outbox.enqueue(
                session, admin_scope(organization_id), template=templates.INVITATION,
                to_address="ana@example.com", params={**INVITATION_PARAMS, "url": LINK},
                secret=LINK, box=box,
            )


async def test_enqueue_flushes_an_invitation_added_in_the_same_transaction(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: UUID, box: SecretBox
) -> None:
    # given an invitation added but not flushed (the session does not autoflush)
    async with sessionmaker() as session, session.begin():
        invitation = models.Invitation(
            id=models.new_id(), organization_id=organization_id, email="a@example.com",
            email_normalized="a@example.com", state=models.InvitationState.PENDING,
            token_hash=b"\x01" * 32, expires_at=datetime.now(UTC),
        )
        session.add(invitation)

        # when
        row = await outbox.enqueue(
            session, admin_scope(organization_id), template=templates.INVITATION,
            to_address="a@example.com", params=INVITATION_PARAMS, secret=LINK, box=box,
            invitation_id=invitation.id,
        )

        # then
        assert row.invitation_id == invitation.id


async def test_a_new_email_for_an_invitation_drops_its_older_unsent_one(
    db: MailDatabase, organization_id: UUID, smtp_server: SmtpServer, make_worker: WorkerFactory
) -> None:
    # given an invitation whose first email is still queued (its link is now dead)
    invitation_id = await db.add_invitation(organization_id)
    await db.queue_invitation_email(organization_id, invitation_id=invitation_id, link="old")

    # when it is resent with a new link
    await db.queue_invitation_email(organization_id, invitation_id=invitation_id, link=LINK)
    await make_worker().run_once()

    # then only the new link goes out
    [message] = smtp_server.messages
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None and LINK in plain.get_content()
    assert await db.count_emails() == 1


async def test_a_resend_keeps_the_history_of_emails_already_sent(
    db: MailDatabase, organization_id: UUID, smtp_server: SmtpServer, make_worker: WorkerFactory
) -> None:
    # given
    invitation_id = await db.add_invitation(organization_id)
    await db.queue_invitation_email(organization_id, invitation_id=invitation_id)
    await make_worker().run_once()

    # when
    await db.queue_invitation_email(organization_id, invitation_id=invitation_id, link=LINK)

    # then
    assert await db.count_emails() == 2


async def test_discard_queued_drops_the_unsent_emails_of_a_revoked_invitation(
    db: MailDatabase,
    organization_id: UUID,
    sessionmaker: async_sessionmaker[AsyncSession],
    smtp_server: SmtpServer,
    make_worker: WorkerFactory,
) -> None:
    # given
    invitation_id = await db.add_invitation(organization_id)
    await db.queue_invitation_email(organization_id, invitation_id=invitation_id)
    other_id = await db.add_invitation(organization_id, email="b@example.com",
                                       email_normalized="b@example.com")
    await db.queue_invitation_email(organization_id, invitation_id=other_id)

    # when
    async with sessionmaker() as session, session.begin():
        dropped = await mail_repo.discard_queued(session, admin_scope(organization_id),
                                                 invitation_id)
    await make_worker().run_once()

    # then
    assert dropped == 1
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["To"] == "invitee@example.com"


async def test_latest_status_by_invitation_reports_the_newest_email_of_each_invitation(
    db: MailDatabase,
    organization_id: UUID,
    sessionmaker: async_sessionmaker[AsyncSession],
    smtp_server: SmtpServer,
    make_worker: WorkerFactory,
) -> None:
    # given: one sent then resent (queued), one sent, one failed, one never emailed
    resent = await db.add_invitation(organization_id, email_normalized="a@example.com")
    sent = await db.add_invitation(organization_id, email_normalized="b@example.com")
    failed = await db.add_invitation(organization_id, email_normalized="c@example.com")
    silent = await db.add_invitation(organization_id, email_normalized="d@example.com")
    await db.queue_invitation_email(organization_id, invitation_id=resent)
    await db.queue_invitation_email(organization_id, invitation_id=sent)
    await make_worker().run_once()
    smtp_server.stop()
    await db.queue_invitation_email(organization_id, invitation_id=failed)
    await make_worker(outbox_max_attempts=1).run_once()
    await db.queue_invitation_email(organization_id, invitation_id=resent)

    # when
    async with sessionmaker() as session:
        statuses = await mail_repo.latest_status_by_invitation(
            session, admin_scope(organization_id), [resent, sent, failed, silent]
        )

    # then
    assert statuses == {
        resent: models.OutboxStatus.QUEUED,
        sent: models.OutboxStatus.SENT,
        failed: models.OutboxStatus.FAILED,
    }


async def test_latest_status_by_invitation_sees_only_the_given_organization(
    db: MailDatabase, organization_id: UUID, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # given
    invitation_id = await db.add_invitation(organization_id)
    await db.queue_invitation_email(organization_id, invitation_id=invitation_id)
    other_organization_id = await db.add_organization(name="Other Org")

    # when
    async with sessionmaker() as session:
        statuses = await mail_repo.latest_status_by_invitation(
            session, admin_scope(other_organization_id), [invitation_id]
        )

    # then
    assert statuses == {}


async def test_queue_depth_counts_emails_per_status(
    db: MailDatabase,
    organization_id: UUID,
    sessionmaker: async_sessionmaker[AsyncSession],
    smtp_server: SmtpServer,
    make_worker: WorkerFactory,
) -> None:
    # given one sent and two queued
    await db.queue_invitation_email(organization_id)
    await make_worker().run_once()
    await db.queue_invitation_email(organization_id)
    await db.queue_invitation_email(organization_id)

    # when
    async with sessionmaker(**system_tenancy(SystemContext.METRICS)) as session:
        depth = await mail_repo.queue_depth(session)

    # then
    assert depth == {"QUEUED": 2, "SENT": 1, "FAILED": 0}

