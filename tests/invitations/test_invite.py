"""Inviting an external user (docs/INVITATIONS.md: invite and invite again; 'Invite a client
user'; 'invite from the customer page'): every behaviour and every failure code."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from portal_graph.db import models
from portal_graph.ratelimit import Limit, RateLimits
from tests.factories import PASSWORD
from tests.invitations.support import (
    ACCEPT,
    AUDIT,
    INVITATIONS,
    NEW_PASSWORD,
    PREVIEW,
    accept,
    codes,
    gid,
    invite,
    invited,
    only,
    scalar,
    sql,
    token_of,
)

pytestmark = pytest.mark.pooled  # also run through PgBouncer (scripts/test)

UPDATE_TTL = """mutation($days: Int!) {
  updateOrganizationSettings(input: {invitationTtlDays: $days}) {
    organization { invitationTtlDays } userErrors { code } } }"""

INVITE_RAW = """mutation($input: InviteExternalUserInput!) { inviteExternalUser(input: $input) {
  invitation { id } userErrors { code field message } } }"""


async def _counts(sessionmaker) -> tuple[int, int, int]:
    rows = await sql(sessionmaker, """SELECT (SELECT count(*) FROM invitations),
        (SELECT count(*) FROM invitation_customers), (SELECT count(*) FROM email_outbox)""")
    return tuple(rows[0])  # type: ignore[return-value]


async def test_invite_creates_a_pending_invitation_and_returns_the_invite_url(api, org, settings):
    payload = await invite(api, org, "Ana.Lee@Client.example", "Riverside Council",
                           "Harbour Works", name="Ana Lee")

    assert payload["userErrors"] == []
    invitation = payload["invitation"]
    assert invitation["email"] == "Ana.Lee@client.example"  # the domain's case is not kept
    assert invitation["name"] == "Ana Lee"
    assert invitation["status"] == "PENDING"
    assert invitation["emailStatus"] == "QUEUED"
    assert invitation["acceptedAt"] is None
    assert invitation["invitedBy"] == {"email": org.admin["email"], "name": "Alex Admin"}
    assert [c["name"] for c in invitation["customers"]] == ["Harbour Works", "Riverside Council"]
    assert payload["inviteUrl"].startswith(settings.portal_url)
    assert len(token_of(payload["inviteUrl"])) >= 43  # 256 bits, URL-safe base64


async def test_invite_links_expire_after_the_organizations_ttl_7_days_by_default(api, org,
                                                                                 sessionmaker):
    payload = await invited(api, org, "ana@client.example", "Riverside Council")

    lifetime = await scalar(sessionmaker, "SELECT expires_at - created_at FROM invitations")
    assert timedelta(days=7) - timedelta(seconds=5) < lifetime <= timedelta(days=7)
    assert payload["invitation"]["expiresAt"]


async def test_an_organization_can_make_invites_last_30_days_like_seed_002(api, org,
                                                                            sessionmaker):
    changed = only(await api(UPDATE_TTL, {"days": 30}, token=org.token))
    assert changed["userErrors"] == []

    await invited(api, org, "ana@client.example", "Riverside Council")

    lifetime = await scalar(sessionmaker, "SELECT expires_at - created_at FROM invitations")
    assert timedelta(days=30) - timedelta(seconds=5) < lifetime <= timedelta(days=30)


async def test_only_the_hash_of_the_token_is_stored_and_the_email_carries_no_plain_link(
        api, org, sessionmaker):
    payload = await invited(api, org, "ana@client.example", "Riverside Council")
    token = token_of(payload["inviteUrl"])

    dump = await scalar(sessionmaker, """SELECT concat_ws('|', i::text, o::text)
        FROM invitations i JOIN email_outbox o ON o.invitation_id = i.id""")
    assert token not in dump
    assert await scalar(sessionmaker, "SELECT token_hash = sha256(convert_to(:t, 'UTF8')) "
                                      "FROM invitations", t=token)


async def test_the_email_is_queued_in_the_same_transaction_with_its_parameters(api, org,
                                                                              sessionmaker):
    await invited(api, org, "ana@client.example", "Riverside Council", "Harbour Works",
                  name="Ana")

    [(to, params, status)] = await sql(
        sessionmaker, "SELECT to_address, params, status FROM email_outbox")
    assert (to, status) == ("ana@client.example", "QUEUED")
    assert params["organization_name"] == org.name
    assert params["customer_names"] == ["Harbour Works", "Riverside Council"]
    assert params["invitee_name"] == "Ana" and params["inviter_name"] == "Alex Admin"
    assert params["kind"] == "invite"


async def test_NO_COMPANY_SELECTED_select_at_least_one_company(api, org, sessionmaker):
    payload = await invite(api, org, "ana@client.example")

    assert payload["userErrors"] == [{"code": "NO_COMPANY_SELECTED",
                                      "field": ["input", "customerIds"],
                                      "message": "Select at least one company"}]
    assert payload["invitation"] is None and payload["inviteUrl"] is None
    assert await _counts(sessionmaker) == (0, 0, 0)


@pytest.mark.parametrize("email", ["", "not-an-email", "two@@example.com", "a b@example.com",
                                   "nodot@example"])
async def test_INVALID_EMAIL(api, org, sessionmaker, email):
    payload = await invite(api, org, email, "Riverside Council")

    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID_EMAIL", ["input", "email"])]
    assert await _counts(sessionmaker) == (0, 0, 0)


async def test_INVALID_EMAIL_and_NO_COMPANY_SELECTED_are_reported_together(api, org):
    payload = await invite(api, org, "nope")

    assert codes(payload) == ["INVALID_EMAIL", "NO_COMPANY_SELECTED"]


async def test_NOT_FOUND_for_a_customer_of_another_organization(api, org, make, sessionmaker):
    other_org = await make.organization()
    foreign = await make.customer(other_org, name="Someone Else's Customer")

    result = only(await api(INVITE_RAW, {"input": {
        "email": "ana@client.example",
        "customerIds": [org.customer("Riverside Council"), gid("Customer", foreign)]}},
        token=org.token))

    assert result["userErrors"] == [{"code": "NOT_FOUND", "field": ["input", "customerIds"],
                                     "message": "Customer not found"}]
    assert await _counts(sessionmaker) == (0, 0, 0)


@pytest.mark.parametrize("bad_id", ["garbage", gid("Job", uuid.uuid4())])
async def test_NOT_FOUND_for_an_id_that_is_no_customer(api, org, bad_id):
    result = only(await api(INVITE_RAW, {"input": {"email": "ana@client.example",
                                                   "customerIds": [bad_id]}}, token=org.token))

    assert codes(result) == ["NOT_FOUND"]


async def test_INTERNAL_MEMBER_an_employee_login_here_cannot_be_invited(api, org, make,
                                                                         sessionmaker):
    await make.staff(org.id, role=models.Role.USER, email="tech@evergreen.example")

    payload = await invite(api, org, "TECH@evergreen.example", "Riverside Council")

    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INTERNAL_MEMBER", ["input", "email"])]
    assert await _counts(sessionmaker) == (0, 0, 0)


async def test_an_employee_of_another_organization_can_be_invited_here(api, org, make):
    other = await make.organization()
    await make.staff(other, email="dual@elsewhere.example")

    payload = await invite(api, org, "dual@elsewhere.example", "Riverside Council")

    assert payload["userErrors"] == []


async def test_ALREADY_MEMBER_user_already_belongs_to_this_account(api, org, make, sessionmaker):
    await make.external(org.id, [org.customers["Riverside Council"],
                                 org.customers["Harbour Works"]], email="ana@client.example")

    payload = await invite(api, org, "Ana@Client.example", "Riverside Council", "Harbour Works")

    assert payload["userErrors"] == [{"code": "ALREADY_MEMBER", "field": ["input", "email"],
                                      "message": "User already belongs to this account"}]
    assert await _counts(sessionmaker) == (0, 0, 0)


async def test_an_external_user_invited_to_more_customers_gets_only_the_missing_ones(
        api, org, make):
    await make.external(org.id, [org.customers["Riverside Council"]], email="ana@client.example")

    payload = await invited(api, org, "ana@client.example", "Riverside Council", "Harbour Works")
    accepted = await accept(api, token_of(payload["inviteUrl"]), password=PASSWORD)

    assert [c["name"] for c in payload["invitation"]["customers"]] == ["Harbour Works"]
    assert accepted["userErrors"] == []
    assert len(accepted["viewer"]["customerIds"]) == 2


async def test_inviting_again_while_pending_adds_customers_resets_expiry_and_replaces_the_link(
        api, org, sessionmaker):
    first = await invited(api, org, "ana@client.example", "Riverside Council")
    await sql(sessionmaker, "UPDATE invitations SET expires_at = expires_at - interval '3 days'")

    second = await invited(api, org, "ANA@client.example", "Harbour Works", name="Ana")

    assert second["invitation"]["id"] == first["invitation"]["id"]
    assert [c["name"] for c in second["invitation"]["customers"]] == [
        "Harbour Works", "Riverside Council"]
    assert second["invitation"]["expiresAt"] > first["invitation"]["expiresAt"]
    assert await scalar(sessionmaker, "SELECT count(*) FROM invitations") == 1
    old, new = token_of(first["inviteUrl"]), token_of(second["inviteUrl"])
    assert old != new
    assert only(await api(PREVIEW, {"token": old})) is None
    assert only(await api(PREVIEW, {"token": new}))["customerNames"] == [
        "Harbour Works", "Riverside Council"]
    # the first email, with its dead link, is dropped; the new one is queued
    assert await sql(sessionmaker, "SELECT params->>'kind' FROM email_outbox") == [("resend",)]


async def test_inviting_again_after_expiry_revives_the_same_invitation(api, org, sessionmaker):
    first = await invited(api, org, "ana@client.example", "Riverside Council")
    await sql(sessionmaker, "UPDATE invitations SET expires_at = now() - interval '1 day'")

    second = await invited(api, org, "ana@client.example", "Riverside Council")

    assert second["invitation"]["id"] == first["invitation"]["id"]
    assert second["invitation"]["status"] == "PENDING"
    accepted = await accept(api, token_of(second["inviteUrl"]))
    assert accepted["userErrors"] == []


async def test_an_accepted_invitation_does_not_block_a_new_one_for_other_customers(api, org):
    first = await invited(api, org, "ana@client.example", "Riverside Council")
    await accept(api, token_of(first["inviteUrl"]))

    second = await invited(api, org, "ana@client.example", "Harbour Works")

    assert second["invitation"]["id"] != first["invitation"]["id"]
    statuses = only(await api(INVITATIONS, {}, token=org.token))
    assert sorted(e["node"]["status"] for e in statuses["edges"]) == ["ACCEPTED", "PENDING"]


async def test_inviting_records_an_audit_event_with_actor_target_customers_and_address(
        api, org):
    await invited(api, org, "ana@client.example", "Riverside Council")

    [event] = [e["node"] for e in only(await api(AUDIT, token=org.token))["edges"]]
    assert event["action"] == "INVITATION_SENT"
    assert event["actor"] == {"email": org.admin["email"], "name": "Alex Admin"}
    assert event["targetEmail"] == "ana@client.example"
    assert event["customers"] == [{"name": "Riverside Council"}]
    assert event["clientAddress"] == "203.0.113.7"
    assert event["occurredAt"]


async def test_RATE_LIMITED_invites_per_organization(api, org, runtime, monkeypatch):
    monkeypatch.setattr(runtime, "rate_limits",
                        RateLimits(invites_per_organization=Limit(2, 3600)))
    for n in range(2):
        await invited(api, org, f"person{n}@client.example", "Riverside Council")

    refused = await invite(api, org, "one.too.many@client.example", "Riverside Council")

    assert codes(refused) == ["RATE_LIMITED"]


async def test_an_invitation_can_be_accepted_once_and_then_it_reads_accepted(api, org):
    payload = await invited(api, org, "ana@client.example", "Riverside Council")

    accepted = only(await api(ACCEPT, {"input": {"token": token_of(payload["inviteUrl"]),
                                                 "password": NEW_PASSWORD}}))

    assert accepted["userErrors"] == []
    listed = only(await api(INVITATIONS, {"status": "ACCEPTED"}, token=org.token))
    assert [e["node"]["email"] for e in listed["edges"]] == ["ana@client.example"]
