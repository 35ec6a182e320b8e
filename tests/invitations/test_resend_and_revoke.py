"""Resending and cancelling an invitation (docs/INVITATIONS.md: 'resend' and 'revoke
invitation'; 'Resending or canceling a pending invitation')."""

from __future__ import annotations

import uuid

import pytest

from tests.invitations.support import (
    AUDIT,
    PREVIEW,
    RESEND,
    REVOKE_INVITATION,
    accept,
    codes,
    expire,
    gid,
    invited,
    only,
    organization,
    scalar,
    sql,
    token_of,
)

pytestmark = pytest.mark.pooled  # also run through PgBouncer (scripts/test)


async def test_resend_issues_a_new_link_and_the_old_one_stops_working(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")

    resent = only(await api(RESEND, {"id": sent["invitation"]["id"]}, token=org.token))

    assert resent["userErrors"] == []
    old, new = token_of(sent["inviteUrl"]), token_of(resent["inviteUrl"])
    assert old != new
    assert only(await api(PREVIEW, {"token": old})) is None
    assert codes(await accept(api, old)) == ["INVITATION_INVALID"]
    assert (await accept(api, new))["userErrors"] == []


async def test_resend_resets_the_expiry_to_now_plus_the_ttl_and_queues_a_new_email(
        api, org, sessionmaker):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await sql(sessionmaker, "UPDATE invitations SET expires_at = now() + interval '1 hour'")

    resent = only(await api(RESEND, {"id": sent["invitation"]["id"]}, token=org.token))

    assert resent["invitation"]["expiresAt"] >= sent["invitation"]["expiresAt"]
    assert await scalar(sessionmaker, "SELECT expires_at > now() + interval '6 days 23 hours' "
                                      "FROM invitations")
    assert resent["invitation"]["emailStatus"] == "QUEUED"
    # one live link, one email: the queued first email with its dead link was dropped
    assert await sql(sessionmaker, "SELECT params->>'kind' FROM email_outbox") == [("resend",)]


async def test_resend_revives_an_expired_invitation(api, org, sessionmaker):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await expire(sessionmaker, "ana@client.example")

    resent = only(await api(RESEND, {"id": sent["invitation"]["id"]}, token=org.token))

    assert resent["invitation"]["status"] == "PENDING"
    assert (await accept(api, token_of(resent["inviteUrl"])))["userErrors"] == []


async def test_INVITATION_NOT_PENDING_resend_after_acceptance(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await accept(api, token_of(sent["inviteUrl"]))

    resent = only(await api(RESEND, {"id": sent["invitation"]["id"]}, token=org.token))

    assert resent["userErrors"] == [{"code": "INVITATION_NOT_PENDING",
                                     "field": ["input", "invitationId"],
                                     "message": "This invitation was already accepted or "
                                                "cancelled."}]
    assert resent["inviteUrl"] is None


async def test_INVITATION_NOT_PENDING_resend_after_cancel(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    only(await api(REVOKE_INVITATION, {"id": sent["invitation"]["id"]}, token=org.token))

    resent = only(await api(RESEND, {"id": sent["invitation"]["id"]}, token=org.token))

    assert codes(resent) == ["INVITATION_NOT_PENDING"]


@pytest.mark.parametrize("mutation", [RESEND, REVOKE_INVITATION])
async def test_NOT_FOUND_for_an_unknown_invitation_or_a_wrong_id(api, org, mutation):
    for bad in (gid("Invitation", uuid.uuid4()), gid("Customer", org.customers["Harbour Works"]),
                "garbage"):
        result = only(await api(mutation, {"id": bad}, token=org.token))
        assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
            ("NOT_FOUND", ["input", "invitationId"])]


@pytest.mark.parametrize("mutation", [RESEND, REVOKE_INVITATION])
async def test_NOT_FOUND_for_another_organizations_invitation(api, org, make, mutation):
    other = await organization(make, name="Other Org", customers=("Their Customer",))
    theirs = await invited(api, other, "ana@client.example", "Their Customer")

    result = only(await api(mutation, {"id": theirs["invitation"]["id"]}, token=org.token))

    assert codes(result) == ["NOT_FOUND"]


async def test_revoke_cancels_the_invitation_and_its_link_stops_working_at_once(api, org,
                                                                                sessionmaker):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")

    revoked = only(await api(REVOKE_INVITATION, {"id": sent["invitation"]["id"]},
                             token=org.token))

    assert revoked["userErrors"] == []
    assert revoked["invitation"]["status"] == "REVOKED"
    token = token_of(sent["inviteUrl"])
    assert only(await api(PREVIEW, {"token": token})) is None
    assert codes(await accept(api, token)) == ["INVITATION_INVALID"]
    # its unsent email is dropped: a cancelled invitation is never delivered
    assert await scalar(sessionmaker, "SELECT count(*) FROM email_outbox") == 0
    assert revoked["invitation"]["emailStatus"] is None


async def test_an_expired_invitation_can_be_cancelled(api, org, sessionmaker):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await expire(sessionmaker, "ana@client.example")

    revoked = only(await api(REVOKE_INVITATION, {"id": sent["invitation"]["id"]},
                             token=org.token))

    assert revoked["invitation"]["status"] == "REVOKED"


async def test_INVITATION_NOT_PENDING_cancel_after_acceptance(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await accept(api, token_of(sent["inviteUrl"]))

    revoked = only(await api(REVOKE_INVITATION, {"id": sent["invitation"]["id"]},
                             token=org.token))

    assert codes(revoked) == ["INVITATION_NOT_PENDING"]


async def test_after_a_cancel_the_email_can_be_invited_again(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    only(await api(REVOKE_INVITATION, {"id": sent["invitation"]["id"]}, token=org.token))

    again = await invited(api, org, "ana@client.example", "Harbour Works")

    assert again["invitation"]["id"] != sent["invitation"]["id"]
    assert [c["name"] for c in again["invitation"]["customers"]] == ["Harbour Works"]


async def test_resend_and_cancel_are_audited(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    only(await api(RESEND, {"id": sent["invitation"]["id"]}, token=org.token))
    only(await api(REVOKE_INVITATION, {"id": sent["invitation"]["id"]}, token=org.token))

    events = [e["node"] for e in only(await api(AUDIT, token=org.token))["edges"]]

    assert [e["action"] for e in events] == ["INVITATION_REVOKED", "INVITATION_RESENT",
                                             "INVITATION_SENT"]
    assert {e["targetEmail"] for e in events} == {"ana@client.example"}
    assert all(e["customers"] == [{"name": "Riverside Council"}] for e in events)
