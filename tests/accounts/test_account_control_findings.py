"""The five findings of issue 10, reproduced over HTTP with two organizations (docs/RULES.md,
"Who controls an account"). Each test is the attack as it was run against the API, and the
outcome the rule demands: Beta's admin is the attacker, Acme is the victim's employer.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.factories import INVALID_TOKEN, PASSWORD
from tests.invitations.support import (
    Org,
    emailed_link,
    gid,
    only,
    organization,
    scalar,
    token_of,
)

NEW_HIRE = "new.hire@acme.test"
ATTACKER_PASSWORD = "attacker chosen passphrase"
OWNER_PASSWORD = "the owners own passphrase"

LOGIN = """mutation($email: String!, $password: String!, $org: ID) {
  login(input: {email: $email, password: $password, organizationId: $org}) {
    token viewer { role organization { name } } userErrors { code } } }"""
CREATE_STAFF_WITH_PASSWORD = """mutation($email: String!, $role: Role!, $password: String) {
  createStaffMember(input: {email: $email, role: $role, password: $password}) {
    userErrors { code } } }"""
CREATE_STAFF = """mutation($email: String!, $role: Role!) {
  createStaffMember(input: {email: $email, role: $role}) {
    inviteUrl invitation { id } userErrors { code field message } } }"""
CREATE_STAFF_ERRORS_ONLY = """mutation($email: String!, $role: Role!) {
  createStaffMember(input: {email: $email, role: $role}) { userErrors { code field message } } }"""
INVITE = """mutation($email: String!, $customers: [ID!]!) {
  inviteExternalUser(input: {email: $email, customerIds: $customers}) {
    inviteUrl invitation { id status customers { name } } userErrors { code field message } } }"""
ACCEPT = """mutation($token: String!, $password: String!) {
  acceptInvitation(input: {token: $token, password: $password}) {
    token viewer { role organization { name } } userErrors { code } } }"""
PREVIEW_CHOICE = """query($token: String!) { invitationPreview(token: $token) {
  kind role passwordChoice } }"""
PREVIEW = """query($token: String!) { invitationPreview(token: $token) {
  organizationName customerNames expired kind passwordChoice } }"""
PENDING_STAFF = """{ invitations(kind: STAFF) { edges { node {
  email kind role status name customers { name } } } } }"""
SWITCH = """mutation($org: ID!) { switchOrganization(input: {organizationId: $org}) {
  token userErrors { code } } }"""
CREATE_API_TOKEN = """mutation { createApiToken(input: {name: "feed", expiresInDays: null}) {
  token userErrors { code } } }"""
REVOKE_ALL = """mutation($user: ID!) { revokeAllExternalAccess(input: {externalUserId: $user}) {
  userErrors { code } } }"""
ME = "{ me { email organization { name } } }"


async def login(api: Any, email: str, password: str, org: Org | None = None) -> dict[str, Any]:
    variables = {"email": email, "password": password,
                 "org": gid("Organization", org.id) if org else None}
    return only(await api(LOGIN, variables))  # type: ignore[no-any-return]


@pytest.fixture
async def acme(make: Any) -> Org:
    return await organization(make, name="Acme Surveying", customers=("Acme Client",))


@pytest.fixture
async def beta(make: Any) -> Org:
    return await organization(make, name="Beta Grounds", customers=("Beta Client",))


# --- F1: cross-tenant account takeover -----------------------------------------------------


async def test_f1_an_admin_cannot_choose_the_password_of_a_new_staff_member(api, beta):
    chosen = await api(CREATE_STAFF_WITH_PASSWORD, {"email": NEW_HIRE, "role": "USER",
                                                    "password": ATTACKER_PASSWORD},
                       token=beta.token)

    assert chosen.get("data") is None, chosen
    assert [e["extensions"]["code"] for e in chosen["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert (await login(api, NEW_HIRE, ATTACKER_PASSWORD))["token"] is None


async def beta_sets_up_the_account(api: Any, beta: Org, route: str) -> str:
    """Beta's admin creates NEW_HIRE's account through a link it copied, with a password of
    its choosing: by a staff invitation or an external one. Returns the attacker's session."""
    if route == "staff":
        made = only(await api(CREATE_STAFF, {"email": NEW_HIRE, "role": "USER"},
                              token=beta.token))
    else:
        made = only(await api(INVITE, {"email": NEW_HIRE,
                                       "customers": [beta.customer("Beta Client")]},
                              token=beta.token))
    assert made["userErrors"] == [], made
    accepted = only(await api(ACCEPT, {"token": token_of(made["inviteUrl"]),
                                       "password": ATTACKER_PASSWORD}))
    assert accepted["userErrors"] == [], accepted
    return accepted["token"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("route", ["staff", "external"])
async def test_f1_a_password_another_organization_set_never_opens_acme(
        api, acme, beta, sessionmaker, runtime, route):
    attacker_session = await beta_sets_up_the_account(api, beta, route)
    attacker_api_token = only(await api(CREATE_API_TOKEN, token=attacker_session))["token"]

    # Acme adds the same email as an ADMIN: it cannot attach the account, it invites.
    invited = only(await api(CREATE_STAFF_ERRORS_ONLY, {"email": NEW_HIRE, "role": "ADMIN"},
                             token=acme.token))
    assert invited["userErrors"] == []
    in_acme = await login(api, NEW_HIRE, ATTACKER_PASSWORD, acme)
    assert in_acme["token"] is None, "the attacker signed in to Acme"
    assert in_acme["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]

    # The mailbox owner opens Acme's email: it proves the mailbox, so the account is theirs.
    pending = only(await api(PENDING_STAFF, token=acme.token))["edges"]
    assert [(e["node"]["email"], e["node"]["role"]) for e in pending] == [(NEW_HIRE, "ADMIN")]
    invitation_id = await scalar(sessionmaker, "SELECT id FROM invitations WHERE "
                                 "organization_id = :org AND kind = 'STAFF'", org=acme.id)
    link = await emailed_link(sessionmaker, runtime.box, gid("Invitation", invitation_id))
    preview = only(await api(PREVIEW_CHOICE, {"token": token_of(link)}))
    assert preview == {"kind": "STAFF", "role": "ADMIN", "passwordChoice": "NEW_PASSWORD"}
    owner = only(await api(ACCEPT, {"token": token_of(link), "password": OWNER_PASSWORD}))
    assert owner["userErrors"] == []
    assert owner["viewer"] == {"role": "ADMIN", "organization": {"name": "Acme Surveying"}}

    # Everything the copied-link holder made is dead, and their password opens nothing.
    assert await api(ME, token=attacker_session) == INVALID_TOKEN
    assert await api(ME, token=attacker_api_token) == INVALID_TOKEN
    for org in (None, beta, acme):
        assert (await login(api, NEW_HIRE, ATTACKER_PASSWORD, org))["token"] is None
    assert (await login(api, NEW_HIRE, OWNER_PASSWORD, acme))["token"]


# --- F2: password oracle through accept ----------------------------------------------------


async def test_f2_guesses_through_accept_count_against_the_emails_login_limit(
        api, acme, beta, make):
    await make.staff(acme.id, email="victim@acme.test")
    invited = only(await api(INVITE, {"email": "victim@acme.test",
                                      "customers": [beta.customer("Beta Client")]},
                             token=beta.token))
    link_token = token_of(invited["inviteUrl"])

    guesses = [only(await api(ACCEPT, {"token": link_token, "password": f"guess number {n}"}))
               for n in range(10)]
    right = only(await api(ACCEPT, {"token": link_token, "password": PASSWORD}))

    assert {g["userErrors"][0]["code"] for g in guesses} == {"INVALID_CREDENTIALS"}
    assert right["token"] is None, "the eleventh guess opened the account"
    assert right["userErrors"] == [{"code": "RATE_LIMITED"}]
    # The same limit as login's: the owner's own login waits out the window too.
    assert (await login(api, "victim@acme.test", PASSWORD))["userErrors"] == [
        {"code": "RATE_LIMITED"}]


# --- F3: API tokens escape -----------------------------------------------------------------


@pytest.fixture
async def dual(api: Any, make: Any, acme: Org, beta: Org) -> dict[str, Any]:
    """A person who is a MANAGER at Acme and an external user at Beta, signed in at Beta."""
    from portal_graph.db import models

    manager = await make.staff(acme.id, role=models.Role.MANAGER, email="dual@acme.test")
    external = await make.external(beta.id, [beta.customers["Beta Client"]],
                                   person=manager["person"])
    session = await make.session_token(beta.id, manager["person"]["id"])
    return {"session": session, "external_user": gid("ExternalUser", external["id"])}


async def test_f3_an_api_token_cannot_switch_organization_or_mint_tokens(api, acme, dual):
    api_token = only(await api(CREATE_API_TOKEN, token=dual["session"]))["token"]

    switched = await api(SWITCH, {"org": gid("Organization", acme.id)}, token=api_token)
    minted = await api(CREATE_API_TOKEN, token=api_token)

    for refused in (switched, minted):
        assert refused.get("data") is None, refused
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]


async def test_f3_revoking_the_session_a_switch_came_from_ends_the_switched_session(
        api, acme, beta, dual):
    switched = only(await api(SWITCH, {"org": gid("Organization", acme.id)},
                              token=dual["session"]))
    assert switched["userErrors"] == []

    revoked = only(await api(REVOKE_ALL, {"user": dual["external_user"]}, token=beta.token))

    assert revoked["userErrors"] == []
    assert await api(ME, token=switched["token"]) == INVALID_TOKEN


# --- F4: probing and attaching without consent ---------------------------------------------


async def test_f4_adding_staff_answers_the_same_whether_the_email_has_an_account(
        api, acme, beta, make):
    await make.staff(acme.id, email="victim@acme.test")

    known = only(await api(CREATE_STAFF_ERRORS_ONLY, {"email": "victim@acme.test",
                                                      "role": "ADMIN"}, token=beta.token))
    unknown = only(await api(CREATE_STAFF_ERRORS_ONLY, {"email": "nobody@acme.test",
                                                        "role": "ADMIN"}, token=beta.token))

    assert known == unknown == {"userErrors": []}
    pending = only(await api(PENDING_STAFF, token=beta.token))["edges"]
    shapes = {e["node"]["email"]: {k: v for k, v in e["node"].items() if k != "email"}
              for e in pending}
    assert shapes["victim@acme.test"] == shapes["nobody@acme.test"] == {
        "kind": "STAFF", "role": "ADMIN", "status": "PENDING", "name": None, "customers": []}
    # Nothing was attached: the victim still belongs to Acme alone.
    assert (await login(api, "victim@acme.test", PASSWORD))["token"]


async def test_f4_inviting_answers_the_same_whether_the_email_has_an_account(
        api, acme, beta, make):
    await make.staff(acme.id, email="victim@acme.test")
    customers = [beta.customer("Beta Client")]

    known = only(await api(INVITE, {"email": "victim@acme.test", "customers": customers},
                           token=beta.token))
    unknown = only(await api(INVITE, {"email": "nobody@acme.test", "customers": customers},
                             token=beta.token))

    def shape(payload: dict[str, Any]) -> dict[str, Any]:
        return {"userErrors": payload["userErrors"], "linked": bool(payload["inviteUrl"]),
                "invitation": {k: v for k, v in payload["invitation"].items() if k != "id"}}

    assert shape(known) == shape(unknown)


async def test_f4_the_copied_links_preview_does_not_say_whether_an_account_exists(
        api, acme, beta, make):
    await make.staff(acme.id, email="victim@acme.test")
    customers = [beta.customer("Beta Client")]
    known = only(await api(INVITE, {"email": "victim@acme.test", "customers": customers},
                           token=beta.token))
    unknown = only(await api(INVITE, {"email": "nobody@acme.test", "customers": customers},
                             token=beta.token))

    previews = [only(await api(PREVIEW, {"token": token_of(p["inviteUrl"])}))
                for p in (known, unknown)]

    assert previews[0] == previews[1]


# --- F5: emails --------------------------------------------------------------------------------


@pytest.mark.parametrize("email", [
    "a,b@evil.test",
    "x@evil.test>,<y@evil.test",
    "<script>x@evil.test",
    "Someone <x@evil.test>",
    "adm\u0131n@acme.test",  # dotless i
    "ad\u200bmin@acme.test",  # zero-width space
    "\uff41dmin@acme.test",  # full-width a
    "admin@acme.test\u202e",  # right-to-left override
], ids=["list", "two-addresses", "markup", "display-name", "dotless-i", "zero-width",
        "full-width", "bidi"])
async def test_f5_an_address_that_is_not_one_plain_address_is_refused(api, beta, email):
    invited = only(await api(INVITE, {"email": email,
                                      "customers": [beta.customer("Beta Client")]},
                             token=beta.token))

    assert invited["inviteUrl"] is None
    assert [e["code"] for e in invited["userErrors"]] == ["INVALID_EMAIL"]


async def test_f5_a_full_width_domain_is_the_same_address(api, acme, make):
    await make.staff(acme.id, email="lead@acme.test")

    invited = only(await api(INVITE, {"email": "lead@\uff41cme.test",
                                      "customers": [acme.customer("Acme Client")]},
                             token=acme.token))

    assert [e["code"] for e in invited["userErrors"]] == ["INTERNAL_MEMBER"]


NUL_PROBES = [
    ("login email", LOGIN, {"email": "a\x00@acme.test", "password": "x", "org": None}, False),
    ("invite email", INVITE, {"email": "a\x00b@acme.test", "customers": []}, True),
    ("search", "query($s: String) { externalUsers(search: $s) { totalCount } }",
     {"s": "a\x00b"}, True),
    ("customer search", "query($s: String) { customers(search: $s) { totalCount } }",
     {"s": "\x00"}, True),
    ("cursor", "query($a: String) { customers(first: 1, after: $a) { totalCount } }",
     {"a": "abc\x00"}, True),
    ("literal", 'query { customers(search: "x\\u0000y") { totalCount } }', {}, True),
    ("preview token", "query($t: String!) { invitationPreview(token: $t) { email } }",
     {"t": "tok\x00en"}, False),
]


@pytest.mark.parametrize(("query", "variables", "as_admin"),
                         [p[1:] for p in NUL_PROBES], ids=[p[0] for p in NUL_PROBES])
async def test_f5_a_nul_byte_anywhere_is_bad_input_never_a_server_error(
        api, beta, caplog, query, variables, as_admin):
    caplog.set_level(logging.INFO)

    result = await api(query, variables, token=beta.token if as_admin else None)

    codes = {e["extensions"]["code"] for e in result.get("errors", [])}
    payload = next(iter((result.get("data") or {}).values()), None) or {}
    codes |= {e["code"] for e in payload.get("userErrors", [])}
    assert codes, result
    assert codes <= {"BAD_USER_INPUT", "INVALID_INPUT", "INVALID_EMAIL"}, result
    assert api.response.status_code < 500
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "\x00" not in caplog.text and "parameters" not in caplog.text
