"""Accepting an invitation (docs/INVITATIONS.md: 'accept'; 'accept an invite and
create a password'), and the preview the accept page shows first."""

from __future__ import annotations

import pytest

from portal_graph.db import models
from portal_graph.ratelimit import Limit, RateLimits
from tests.factories import PASSWORD
from tests.invitations.support import (
    AUDIT,
    INVITATIONS,
    MY_PORTAL,
    NEW_PASSWORD,
    PREVIEW,
    REVOKE_INVITATION,
    accept,
    codes,
    emailed_link,
    expire,
    invited,
    only,
    organization,
    scalar,
    sql,
    token_of,
)

pytestmark = pytest.mark.pooled  # also run through PgBouncer (scripts/test)

LOGIN = """mutation($email: String!, $password: String!, $org: ID) {
  login(input: {email: $email, password: $password, organizationId: $org}) {
    token userErrors { code } } }"""


async def test_a_new_person_sets_a_password_and_name_and_gets_a_session(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council", "Harbour Works",
                         name="Ana")

    accepted = await accept(api, token_of(sent["inviteUrl"]), name="Ana Lee")

    assert accepted["userErrors"] == []
    assert accepted["token"].startswith("pgs_")
    assert accepted["viewer"]["email"] == "ana@client.example"
    assert accepted["viewer"]["name"] == "Ana Lee"
    assert accepted["viewer"]["audience"] == "EXTERNAL"
    assert accepted["viewer"]["organization"] == {"name": org.name}
    portal = await api(MY_PORTAL, token=accepted["token"])
    assert [e["node"]["name"] for e in portal["data"]["customers"]["edges"]] == [
        "Harbour Works", "Riverside Council"]
    login = only(await api(LOGIN, {"email": "ana@client.example", "password": NEW_PASSWORD}))
    assert login["userErrors"] == [] and login["token"]


async def test_without_a_name_the_invitations_name_is_kept(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council", name="Ana")

    accepted = await accept(api, token_of(sent["inviteUrl"]))

    assert accepted["viewer"]["name"] == "Ana"


async def test_a_person_with_an_account_proves_it_with_the_current_password_which_stays(
        api, org, make, sessionmaker, runtime):
    other = await make.organization(name="Their Employer")
    staff = await make.staff(other, email="dual@example.com")
    before = await scalar(sessionmaker, "SELECT password_hash FROM persons WHERE id = :id",
                          id=staff["person"]["id"])
    sent = await invited(api, org, "dual@example.com", "Riverside Council")
    emailed = await emailed_link(sessionmaker, runtime.box, sent["invitation"]["id"])
    preview = only(await api(PREVIEW, {"token": token_of(emailed)}))

    accepted = await accept(api, token_of(sent["inviteUrl"]), password=PASSWORD,
                            name="Another Name")

    assert preview["passwordChoice"] == "CURRENT_PASSWORD"
    assert accepted["userErrors"] == []
    assert accepted["viewer"]["audience"] == "EXTERNAL"
    after = await sql(sessionmaker, "SELECT password_hash, name FROM persons WHERE id = :id",
                      id=staff["person"]["id"])
    assert after == [(before, staff["person"]["name"])]  # neither is replaced


async def test_INVALID_CREDENTIALS_when_an_existing_account_gives_a_wrong_password(
        api, org, make, sessionmaker):
    other = await make.organization()
    await make.staff(other, email="dual@example.com")
    sent = await invited(api, org, "dual@example.com", "Riverside Council")

    refused = await accept(api, token_of(sent["inviteUrl"]), password="not my password at all")

    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("INVALID_CREDENTIALS", ["input", "password"])]
    assert refused["token"] is None
    assert await scalar(sessionmaker, "SELECT state FROM invitations") == "PENDING"
    assert await scalar(sessionmaker, "SELECT count(*) FROM external_users") == 0


@pytest.mark.parametrize(("password", "message"), [
    ("short", "Use at least 12 characters."),
    ("ana@client.example", "Your password must not be your email address."),
    ("aaaaaaaaaaaaaaaa", "Use a password with more variety than repeated characters."),
])
async def test_WEAK_PASSWORD_for_a_new_person(api, org, sessionmaker, password, message):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")

    refused = await accept(api, token_of(sent["inviteUrl"]), password=password)

    assert refused["userErrors"] == [{"code": "WEAK_PASSWORD", "field": ["input", "password"],
                                      "message": message}]
    assert await scalar(sessionmaker, "SELECT count(*) FROM persons "
                                      "WHERE email_normalized = 'ana@client.example'") == 0
    assert await scalar(sessionmaker, "SELECT state FROM invitations") == "PENDING"


async def test_INVITATION_EXPIRED_invite_expired_and_it_reads_expired(api, org, sessionmaker):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await expire(sessionmaker, "ana@client.example")

    refused = await accept(api, token_of(sent["inviteUrl"]))
    expired = only(await api(INVITATIONS, {"status": "EXPIRED"}, token=org.token))
    pending = only(await api(INVITATIONS, {"status": "PENDING"}, token=org.token))
    preview = only(await api(PREVIEW, {"token": token_of(sent["inviteUrl"])}))

    assert refused["userErrors"] == [{"code": "INVITATION_EXPIRED", "field": ["input", "token"],
                                      "message": "Invite expired"}]
    assert [e["node"]["status"] for e in expired["edges"]] == ["EXPIRED"]
    assert pending["edges"] == []
    assert preview["expired"] is True and preview["email"] == "ana@client.example"


async def test_INVITATION_INVALID_for_unknown_revoked_and_used_tokens_alike(api, org):
    used = await invited(api, org, "used@client.example", "Riverside Council")
    await accept(api, token_of(used["inviteUrl"]))
    revoked = await invited(api, org, "revoked@client.example", "Riverside Council")
    only(await api(REVOKE_INVITATION, {"id": revoked["invitation"]["id"]}, token=org.token))
    tokens = [token_of(used["inviteUrl"]), token_of(revoked["inviteUrl"]),
              "x" * 43, "", "y" * 5000]

    answers = [await accept(api, token) for token in tokens]
    previews = [only(await api(PREVIEW, {"token": token})) for token in tokens]

    assert all(answer == {"token": None, "viewer": None, "userErrors": [{
        "code": "INVITATION_INVALID", "field": ["input", "token"],
        "message": "This invitation link is not valid. Ask the person who invited you for a "
                   "new one."}]} for answer in answers)
    assert previews == [None] * len(tokens)


async def test_preview_shows_what_the_accept_page_needs(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council", "Harbour Works",
                         name="Ana")

    preview = only(await api(PREVIEW, {"token": token_of(sent["inviteUrl"])}))

    assert preview == {"organizationName": org.name, "email": "ana@client.example",
                       "name": "Ana", "kind": "EXTERNAL", "role": None,
                       "customerNames": ["Harbour Works", "Riverside Council"],
                       "expiresAt": sent["invitation"]["expiresAt"], "expired": False,
                       "passwordChoice": "NEW_OR_CURRENT"}


async def test_accept_grants_only_the_invitations_customers_that_still_exist(
        api, org, sessionmaker):
    sent = await invited(api, org, "ana@client.example", "Riverside Council", "Harbour Works")
    await sql(sessionmaker, "DELETE FROM customers WHERE id = :id",
              id=org.customers["Harbour Works"])

    accepted = await accept(api, token_of(sent["inviteUrl"]))

    portal = await api(MY_PORTAL, token=accepted["token"])
    assert [e["node"]["name"] for e in portal["data"]["customers"]["edges"]] == [
        "Riverside Council"]


async def test_accept_marks_the_invitation_accepted_with_the_time_and_person(
        api, org, sessionmaker):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")

    await accept(api, token_of(sent["inviteUrl"]))

    [(state, accepted_at, person)] = await sql(
        sessionmaker, "SELECT i.state, i.accepted_at, p.email FROM invitations i "
                      "JOIN persons p ON p.id = i.accepted_person_id")
    assert state == "ACCEPTED" and accepted_at is not None and person == "ana@client.example"


async def test_a_person_whose_access_was_revoked_gets_it_back_by_accepting_a_new_invitation(
        api, org, make, sessionmaker):
    old = await make.external(org.id, [], email="ana@client.example")
    await sql(sessionmaker, "UPDATE external_users SET access_revoked_at = now() WHERE id = :id",
              id=old["id"])
    sent = await invited(api, org, "ana@client.example", "Northgate Park")

    accepted = await accept(api, token_of(sent["inviteUrl"]), password=PASSWORD)

    assert accepted["userErrors"] == []
    assert await sql(sessionmaker, "SELECT id, access_revoked_at FROM external_users") == [
        (old["id"], None)]
    portal = await api(MY_PORTAL, token=accepted["token"])
    assert [e["node"]["name"] for e in portal["data"]["customers"]["edges"]] == [
        "Northgate Park"]


async def test_an_email_that_became_an_employee_here_cannot_accept(api, org, make):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await make.staff(org.id, role=models.Role.USER, email="ana@client.example")

    refused = await accept(api, token_of(sent["inviteUrl"]), password=PASSWORD)

    assert codes(refused) == ["INVITATION_INVALID"]


async def test_an_external_user_of_two_organizations_sees_only_each_organizations_grants(
        api, org, make, sessionmaker, runtime):
    other = await organization(make, name="Second Contractor", customers=("Their Site",))
    first = await invited(api, org, "ana@client.example", "Riverside Council")
    second = await invited(api, other, "ana@client.example", "Their Site")
    here = await accept(api, token_of(first["inviteUrl"]))
    emailed = await emailed_link(sessionmaker, runtime.box, second["invitation"]["id"])
    there = await accept(api, token_of(emailed), password=NEW_PASSWORD)

    mine_here = await api(MY_PORTAL, token=here["token"])
    mine_there = await api(MY_PORTAL, token=there["token"])

    assert there["userErrors"] == []
    assert [e["node"]["name"] for e in mine_here["data"]["customers"]["edges"]] == [
        "Riverside Council"]
    assert [e["node"]["name"] for e in mine_there["data"]["customers"]["edges"]] == [
        "Their Site"]
    assert mine_here["data"]["me"]["customerIds"] != mine_there["data"]["me"]["customerIds"]


async def test_accept_is_audited_with_the_invitee_as_actor(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await accept(api, token_of(sent["inviteUrl"]), name="Ana")

    events = [e["node"] for e in only(await api(AUDIT, token=org.token))["edges"]]

    assert events[0]["action"] == "INVITATION_ACCEPTED"
    assert events[0]["actor"] == {"email": "ana@client.example", "name": "Ana"}
    assert events[0]["customers"] == [{"name": "Riverside Council"}]


async def test_RATE_LIMITED_accepts_per_address(api, org, runtime, monkeypatch):
    monkeypatch.setattr(runtime, "rate_limits", RateLimits(accept_per_address=Limit(2, 60)))
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    for _ in range(2):
        await accept(api, token_of(sent["inviteUrl"]), password="short")

    refused = await accept(api, token_of(sent["inviteUrl"]))

    assert codes(refused) == ["RATE_LIMITED"]


async def test_RATE_LIMITED_previews_per_address_as_a_top_level_error(api, org, runtime,
                                                                       monkeypatch):
    monkeypatch.setattr(runtime, "rate_limits", RateLimits(preview_per_address=Limit(1, 60)))
    await api(PREVIEW, {"token": "x" * 43})

    refused = await api(PREVIEW, {"token": "x" * 43})

    assert refused["data"] == {"invitationPreview": None}
    assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
