"""createStaffMember: admins invite employee logins; the person sets their own password on
accepting (docs/RULES.md). Staff invitations share the invitations' machinery:
email, copyable link, expiry, resend, cancel, pending list, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal_graph.db import models
from tests.factories import PASSWORD
from tests.invitations.support import (
    ACCEPT,
    AUDIT,
    INVITE,
    PREVIEW,
    RESEND,
    REVOKE_INVITATION,
    emailed_link,
    only,
    organization,
    scalar,
    token_of,
)

CREATE = """
mutation($input: CreateStaffMemberInput!) {
  createStaffMember(input: $input) {
    invitation { id email name kind role status emailStatus customers { name }
                 invitedBy { email } }
    inviteUrl
    userErrors { code field message }
  }
}"""
STAFF_INVITATIONS = """query($kind: InvitationKind) { invitations(kind: $kind) {
  totalCount edges { node { email kind role status } } } }"""
LOGIN = """mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p})
  { token viewer { audience role organization { name } } userErrors { code } } }"""
NEW_PASSWORD = "a long and private passphrase"


@pytest.fixture
async def org(make):  # type: ignore[no-untyped-def]
    return await organization(make, name="Evergreen Grounds", customers=("Riverside Council",))


async def invite_staff(api, org, email, role="MANAGER", name=None):  # type: ignore[no-untyped-def]
    return only(await api(CREATE, {"input": {"email": email, "name": name, "role": role}},
                          token=org.token))


async def test_an_admin_invites_a_manager_who_sets_a_password_and_signs_in(api, org):
    sent = await invite_staff(api, org, "lead@example.com", name="Lee Lead")

    assert sent["userErrors"] == []
    assert sent["invitation"] == {
        "id": sent["invitation"]["id"], "email": "lead@example.com", "name": "Lee Lead",
        "kind": "STAFF", "role": "MANAGER", "status": "PENDING", "emailStatus": "QUEUED",
        "customers": [], "invitedBy": {"email": org.admin["email"]}}
    accepted = only(await api(ACCEPT, {"input": {"token": token_of(sent["inviteUrl"]),
                                                 "password": NEW_PASSWORD}}))
    assert accepted["userErrors"] == []
    assert accepted["viewer"]["audience"] == "STAFF"
    login = only(await api(LOGIN, {"e": "lead@example.com", "p": NEW_PASSWORD}))
    assert login["viewer"] == {"audience": "STAFF", "role": "MANAGER",
                               "organization": {"name": org.name}}


async def test_the_preview_says_what_the_person_is_invited_to_be(api, org):
    sent = await invite_staff(api, org, "lead@example.com", role="ADMIN")

    preview = only(await api(PREVIEW, {"token": token_of(sent["inviteUrl"])}))

    assert {k: preview[k] for k in ("organizationName", "kind", "role", "customerNames")} == {
        "organizationName": org.name, "kind": "STAFF", "role": "ADMIN", "customerNames": []}


@pytest.mark.parametrize(("email", "code"), [
    ("not-an-email", "INVALID_EMAIL"),
    ("Two <two@example.com>", "INVALID_EMAIL"),
    ("ADMIN-EMAIL", "DUPLICATE_EMAIL"),
    ("client@example.com", "EXTERNAL_USER"),
])
async def test_bad_input_is_refused_and_nothing_is_written(api, org, make, sessionmaker, email,
                                                           code):
    await make.external(org.id, [org.customers["Riverside Council"]], email="client@example.com")
    email = org.admin["email"].upper() if email == "ADMIN-EMAIL" else email

    result = await invite_staff(api, org, email)

    assert result["invitation"] is None and result["inviteUrl"] is None
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [(code, ["input", "email"])]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(models.Invitation)) == 0


async def test_a_pending_external_invitation_and_a_staff_one_exclude_each_other(api, org):
    customer = org.customer("Riverside Council")
    external = only(await api(INVITE, {"input": {"email": "ext@example.com",
                                                 "customerIds": [customer]}}, token=org.token))
    await invite_staff(api, org, "staff@example.com")

    as_staff = await invite_staff(api, org, "ext@example.com")
    as_external = only(await api(INVITE, {"input": {"email": "staff@example.com",
                                                    "customerIds": [customer]}},
                                 token=org.token))

    assert external["userErrors"] == []
    assert [e["code"] for e in as_staff["userErrors"]] == ["EXTERNAL_USER"]
    assert [e["code"] for e in as_external["userErrors"]] == ["INTERNAL_MEMBER"]


async def test_inviting_again_updates_the_role_and_replaces_the_link(api, org):
    first = await invite_staff(api, org, "lead@example.com", role="USER")
    second = await invite_staff(api, org, "lead@example.com", role="ADMIN")

    assert second["invitation"]["id"] == first["invitation"]["id"]
    assert second["invitation"]["role"] == "ADMIN"
    assert only(await api(PREVIEW, {"token": token_of(first["inviteUrl"])})) is None
    accepted = only(await api(ACCEPT, {"input": {"token": token_of(second["inviteUrl"]),
                                                 "password": NEW_PASSWORD}}))
    assert accepted["viewer"]["audience"] == "ADMIN"


async def test_staff_invitations_are_resent_cancelled_and_listed_like_external_ones(api, org):
    sent = await invite_staff(api, org, "lead@example.com")
    await invite_staff(api, org, "other@example.com")
    only(await api(INVITE, {"input": {"email": "ext@example.com",
                                      "customerIds": [org.customer("Riverside Council")]}},
                   token=org.token))

    resent = only(await api(RESEND, {"id": sent["invitation"]["id"]}, token=org.token))
    cancelled = only(await api(REVOKE_INVITATION, {"id": sent["invitation"]["id"]},
                               token=org.token))
    staff = only(await api(STAFF_INVITATIONS, {"kind": "STAFF"}, token=org.token))

    assert resent["userErrors"] == [] and resent["inviteUrl"] != sent["inviteUrl"]
    assert cancelled["invitation"]["status"] == "REVOKED"
    assert only(await api(PREVIEW, {"token": token_of(resent["inviteUrl"])})) is None
    assert staff["totalCount"] == 2
    assert {(e["node"]["email"], e["node"]["status"]) for e in staff["edges"]} == {
        ("lead@example.com", "REVOKED"), ("other@example.com", "PENDING")}
    assert only(await api(STAFF_INVITATIONS, {"kind": "EXTERNAL"}, token=org.token))[
        "totalCount"] == 1


async def test_the_staff_invitation_and_its_acceptance_are_audited(api, org):
    sent = await invite_staff(api, org, "lead@example.com")
    only(await api(ACCEPT, {"input": {"token": token_of(sent["inviteUrl"]),
                                      "password": NEW_PASSWORD}}))

    events = [e["node"] for e in only(await api(AUDIT, token=org.token))["edges"]]

    assert [(e["action"], e["targetEmail"]) for e in events] == [
        ("INVITATION_ACCEPTED", "lead@example.com"), ("INVITATION_SENT", "lead@example.com")]


async def test_a_person_from_another_organization_joins_with_their_password_which_stays(
        api, org, make, sessionmaker):
    other = await make.organization()
    roamer = await make.staff(other, email="roamer@example.com")
    before = await scalar(sessionmaker, "SELECT password_hash FROM persons WHERE id = :id",
                          id=roamer["person"]["id"])
    sent = await invite_staff(api, org, "roamer@example.com", role="USER")

    accepted = only(await api(ACCEPT, {"input": {"token": token_of(sent["inviteUrl"]),
                                                 "password": PASSWORD}}))

    assert accepted["userErrors"] == []
    assert accepted["viewer"]["organization"] == {"name": org.name}
    assert await scalar(sessionmaker, "SELECT password_hash FROM persons WHERE id = :id",
                        id=roamer["person"]["id"]) == before
    login = only(await api(LOGIN, {"e": "roamer@example.com", "p": PASSWORD}))
    assert login["userErrors"] == [{"code": "ORGANIZATION_REQUIRED"}]


async def test_the_email_carries_a_link_of_its_own_that_proves_the_mailbox(
        api, org, sessionmaker, runtime):
    sent = await invite_staff(api, org, "lead@example.com")

    link = await emailed_link(sessionmaker, runtime.box, sent["invitation"]["id"])

    assert link != sent["inviteUrl"]
    assert only(await api(PREVIEW, {"token": token_of(link)}))["passwordChoice"] == (
        "NEW_PASSWORD")
    assert only(await api(PREVIEW, {"token": token_of(sent["inviteUrl"])}))[
        "passwordChoice"] == "NEW_OR_CURRENT"
    params = await scalar(sessionmaker, "SELECT params FROM email_outbox")
    assert (params["invitation_kind"], params["role"]) == ("STAFF", "MANAGER")


@pytest.mark.parametrize("role", [models.Role.MANAGER, models.Role.USER])
async def test_only_admins_may_invite_staff(api, make, role):
    org = await make.organization()
    member = await make.staff(org, role=role)
    token = await make.session_token(org, member["person"]["id"])

    result = await api(CREATE, {"input": {"email": "x@example.com", "role": "USER"}},
                       token=token)

    assert "data" not in result  # refused at validation, before anything ran
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
