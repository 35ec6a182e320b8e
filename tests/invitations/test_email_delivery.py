"""Invitation emails over a real SMTP server (aiosmtpd on 127.0.0.1), driven by the outbox
worker: delivered with the link, QUEUED while the server is down and sent once it is back,
FAILED visible to the admin, and the copy-the-link fallback (docs/INVITATIONS.md: 'Client didn't
receive the email')."""

from __future__ import annotations

import re

import pytest

from tests.invitations.support import (
    INVITATIONS,
    PREVIEW,
    RESEND,
    accept,
    invited,
    only,
    sql,
    token_of,
)
from tests.mail.mail_support import MAKE_EVERYTHING_DUE

pytestmark = pytest.mark.pooled  # also run through PgBouncer (scripts/test)


def _plain(message) -> str:  # type: ignore[no-untyped-def]
    return message.get_body(preferencelist=("plain",)).get_content()


def _link(message) -> str:  # type: ignore[no-untyped-def]
    """The invite link the email carries (the emailed one: never the admin's `inviteUrl`)."""
    found = re.search(r"http://portal\.test/accept/\S+", _plain(message))
    assert found, _plain(message)
    return found.group(0)


async def _email_statuses(api, org) -> list[str]:  # type: ignore[no-untyped-def]
    listed = only(await api(INVITATIONS, {}, token=org.token))
    return [e["node"]["emailStatus"] for e in listed["edges"]]


async def test_the_invitation_email_arrives_over_smtp_with_the_link_and_reads_sent(
        api, org, smtp_server, make_worker):
    sent = await invited(api, org, "ana@client.example", "Riverside Council", "Harbour Works",
                         name="Ana")

    delivered = await make_worker().run_once()

    assert delivered == 1
    [message] = smtp_server.messages
    assert message["To"] == "ana@client.example"
    assert message["Subject"] == f"Your invitation to the {org.name} customer portal"
    body = _plain(message)
    assert _link(message) != sent["inviteUrl"] and sent["inviteUrl"] not in body
    assert "Hello Ana," in body and "Riverside Council" in body and "Harbour Works" in body
    assert await _email_statuses(api, org) == ["SENT"]
    # the link in the email works, and proves the mailbox: it asks for a new password
    emailed = token_of(_link(message))
    assert only(await api(PREVIEW, {"token": emailed}))["passwordChoice"] == "NEW_PASSWORD"
    assert (await accept(api, emailed))["userErrors"] == []


async def test_with_smtp_down_the_invitation_stays_queued_and_is_delivered_when_it_is_back(
        api, org, smtp_server, make_worker, sessionmaker):
    smtp_server.stop()
    sent = await invited(api, org, "ana@client.example", "Riverside Council")

    assert await make_worker().run_once() == 0
    assert await _email_statuses(api, org) == ["QUEUED"]

    smtp_server.start()
    await sql(sessionmaker, MAKE_EVERYTHING_DUE.text)
    assert await make_worker().run_once() == 1

    [message] = smtp_server.messages
    assert only(await api(PREVIEW, {"token": token_of(_link(message))}))["email"] == (
        sent["invitation"]["email"])
    assert await _email_statuses(api, org) == ["SENT"]


async def test_a_resent_invitation_emails_only_the_new_link(api, org, smtp_server, make_worker):
    smtp_server.stop()
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await make_worker().run_once()  # fails: the first email waits for a retry
    smtp_server.start()

    resent = only(await api(RESEND, {"id": sent["invitation"]["id"]}, token=org.token))
    await make_worker().run_once()

    [message] = smtp_server.messages
    assert message["Subject"].endswith("(new link)")
    assert only(await api(PREVIEW, {"token": token_of(_link(message))})) is not None
    assert sent["inviteUrl"] not in _plain(message) and resent["inviteUrl"] not in _plain(message)


async def test_matrix_000_client_did_not_receive_the_email_status_failed_and_the_copied_link_works(
        api, org, smtp_server, make_worker):
    smtp_server.stop()
    sent = await invited(api, org, "ana@client.example", "Riverside Council")

    await make_worker(outbox_max_attempts=1).run_once()

    assert await _email_statuses(api, org) == ["FAILED"]
    accepted = await accept(api, token_of(sent["inviteUrl"]))
    assert accepted["userErrors"] == [] and accepted["token"]


async def test_a_failed_email_can_be_sent_again_by_resending(api, org, smtp_server, make_worker):
    smtp_server.stop()
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await make_worker(outbox_max_attempts=1).run_once()
    smtp_server.start()

    resent = only(await api(RESEND, {"id": sent["invitation"]["id"]}, token=org.token))
    await make_worker().run_once()

    assert resent["invitation"]["emailStatus"] == "QUEUED"
    assert await _email_statuses(api, org) == ["SENT"]
    assert len(smtp_server.messages) == 1
