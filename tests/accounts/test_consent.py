"""Nobody joins an organization without consenting, and a copied link proves nothing about the
mailbox (docs/RULES.md). Acme is where the person already is; Beta invites them."""

from __future__ import annotations

from typing import Any

import pytest

from portal_graph.db import models
from tests.factories import INVALID_TOKEN, PASSWORD
from tests.invitations.support import (
    AUDIT,
    Org,
    emailed_link,
    invited,
    only,
    organization,
    scalar,
    token_of,
)

ACCEPT = """mutation($token: String!, $password: String) {
  acceptInvitation(input: {token: $token, password: $password}) {
    token viewer { email audience organization { name } } userErrors { code field } } }"""
PREVIEW = "query($t: String!) { invitationPreview(token: $t) { email passwordChoice } }"
CREATE_API_TOKEN = """mutation { createApiToken(input: {name: "feed"}) { token } }"""
LOGIN = """mutation($email: String!, $password: String!, $org: ID) {
  login(input: {email: $email, password: $password, organizationId: $org}) {
    token userErrors { code } } }"""
ME = "{ me { email organization { name } } }"
OWN_PASSWORD = "the owners own passphrase"


@pytest.fixture
async def acme(make: Any) -> Org:
    return await organization(make, name="Acme Surveying", customers=("Acme Client",))


@pytest.fixture
async def beta(make: Any) -> Org:
    return await organization(make, name="Beta Grounds", customers=("Beta Client",))


async def accept(api: Any, token: str, password: str | None = None,
                 bearer: str | None = None) -> dict[str, Any]:
    return only(await api(ACCEPT, {"token": token, "password": password},  # type: ignore[no-any-return]
                          token=bearer))


async def test_the_persons_own_session_is_consent_without_a_password(api, acme, beta, make):
    person = await make.staff(acme.id, email="dana@acme.test")
    session = await make.session_token(acme.id, person["person"]["id"])
    sent = await invited(api, beta, "dana@acme.test", "Beta Client")

    joined = await accept(api, token_of(sent["inviteUrl"]), bearer=session)

    assert joined["userErrors"] == []
    assert joined["viewer"] == {"email": "dana@acme.test", "audience": "EXTERNAL",
                                "organization": {"name": "Beta Grounds"}}


async def test_another_persons_session_is_not_consent(api, acme, beta, make):
    await make.staff(acme.id, email="dana@acme.test")
    someone_else = await make.staff(beta.id, email="eve@beta.test")
    session = await make.session_token(beta.id, someone_else["person"]["id"])
    sent = await invited(api, beta, "dana@acme.test", "Beta Client")

    refused = await accept(api, token_of(sent["inviteUrl"]), bearer=session)

    assert refused["token"] is None
    assert refused["userErrors"] == [{"code": "INVALID_CREDENTIALS", "field": ["input",
                                                                               "password"]}]


async def test_an_api_token_is_not_consent_it_is_refused(api, acme, beta, make):
    person = await make.staff(acme.id, email="dana@acme.test")
    session = await make.session_token(acme.id, person["person"]["id"])
    api_token = only(await api(CREATE_API_TOKEN, token=session))["token"]
    sent = await invited(api, beta, "dana@acme.test", "Beta Client")

    refused = await api(ACCEPT, {"token": token_of(sent["inviteUrl"]), "password": None},
                        token=api_token)

    assert refused.get("data") is None
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]


async def test_a_wrong_password_is_refused_and_writes_nothing(api, acme, beta, make,
                                                              sessionmaker):
    await make.staff(acme.id, email="dana@acme.test")
    sent = await invited(api, beta, "dana@acme.test", "Beta Client")

    refused = await accept(api, token_of(sent["inviteUrl"]), password="not the password")

    assert [e["code"] for e in refused["userErrors"]] == ["INVALID_CREDENTIALS"]
    assert await scalar(sessionmaker, "SELECT count(*) FROM external_users") == 0
    assert await scalar(sessionmaker, "SELECT state FROM invitations") == "PENDING"


async def test_an_account_set_up_through_a_copied_link_needs_the_mailbox_to_join_elsewhere(
        api, acme, beta, sessionmaker, runtime):
    # Beta's copied link made the account: its password proves nothing about the mailbox.
    made = await invited(api, beta, "dana@acme.test", "Beta Client")
    await accept(api, token_of(made["inviteUrl"]), password=OWN_PASSWORD)
    sent = await invited(api, acme, "dana@acme.test", "Acme Client")

    by_copied_link = await accept(api, token_of(sent["inviteUrl"]), password=OWN_PASSWORD)
    emailed = token_of(await emailed_link(sessionmaker, runtime.box, sent["invitation"]["id"]))
    by_email = await accept(api, emailed, password=OWN_PASSWORD)

    assert [e["code"] for e in by_copied_link["userErrors"]] == ["MAILBOX_NOT_PROVEN"]
    assert by_email["userErrors"] == []
    assert by_email["viewer"]["organization"] == {"name": "Acme Surveying"}
    proven = await scalar(sessionmaker, "SELECT email_verified_at IS NOT NULL FROM persons")
    assert proven is True


async def test_the_copied_link_still_works_in_the_organization_that_issued_it(
        api, beta, make):
    first = await invited(api, beta, "dana@acme.test", "Beta Client")
    await accept(api, token_of(first["inviteUrl"]), password=OWN_PASSWORD)
    beta.customers["Beta Second"] = await make.customer(beta.id, name="Beta Second")
    more = await invited(api, beta, "dana@acme.test", "Beta Second")

    joined = await accept(api, token_of(more["inviteUrl"]), password=OWN_PASSWORD)

    assert joined["userErrors"] == []
    assert joined["viewer"]["organization"] == {"name": "Beta Grounds"}


async def test_the_emailed_link_lets_the_mailbox_owner_take_an_unproven_account_back(
        api, acme, beta, sessionmaker, runtime):
    made = await invited(api, beta, "dana@acme.test", "Beta Client")
    squatter = (await accept(api, token_of(made["inviteUrl"]), password="someone elses pass"))[
        "token"]
    sent = await invited(api, acme, "dana@acme.test", "Acme Client")
    emailed = token_of(await emailed_link(sessionmaker, runtime.box, sent["invitation"]["id"]))

    preview = only(await api(PREVIEW, {"t": emailed}))
    taken = await accept(api, emailed, password=OWN_PASSWORD)

    assert preview == {"email": "dana@acme.test", "passwordChoice": "NEW_PASSWORD"}
    assert taken["userErrors"] == []
    assert await api(ME, token=squatter) == INVALID_TOKEN
    assert only(await api(LOGIN, {"email": "dana@acme.test", "password": "someone elses pass",
                                  "org": None}))["token"] is None
    actions = [e["node"]["action"] for e in only(await api(AUDIT, token=acme.token))["edges"]]
    assert "ACCOUNT_TAKEN_BACK" in actions


async def test_the_emailed_link_of_a_proven_account_still_needs_its_password(
        api, acme, beta, make, sessionmaker, runtime):
    await make.staff(acme.id, email="dana@acme.test")
    sent = await invited(api, beta, "dana@acme.test", "Beta Client")
    emailed = token_of(await emailed_link(sessionmaker, runtime.box, sent["invitation"]["id"]))

    preview = only(await api(PREVIEW, {"t": emailed}))
    guessed = await accept(api, emailed, password="a new password of mine")
    joined = await accept(api, emailed, password=PASSWORD)

    assert preview["passwordChoice"] == "CURRENT_PASSWORD"
    assert [e["code"] for e in guessed["userErrors"]] == ["INVALID_CREDENTIALS"]
    assert joined["userErrors"] == []


@pytest.mark.parametrize("exists", [True, False], ids=["account", "no-account"])
async def test_the_copied_links_preview_is_the_same_whether_or_not_an_account_exists(
        api, acme, beta, make, exists):
    if exists:
        await make.staff(acme.id, email="dana@acme.test")
    sent = await invited(api, beta, "dana@acme.test", "Beta Client")

    preview = only(await api(PREVIEW, {"t": token_of(sent["inviteUrl"])}))

    assert preview == {"email": "dana@acme.test", "passwordChoice": "NEW_OR_CURRENT"}


async def test_a_signed_in_accept_mints_a_session_that_ends_with_its_parent(
        api, acme, beta, make):
    person = await make.staff(acme.id, email="dana@acme.test")
    session = await make.session_token(acme.id, person["person"]["id"])
    sent = await invited(api, beta, "dana@acme.test", "Beta Client")
    joined = await accept(api, token_of(sent["inviteUrl"]), bearer=session)

    await api("mutation { logout { ended } }", token=session)

    assert await api(ME, token=joined["token"]) == INVALID_TOKEN


async def test_an_operator_made_account_is_usable_only_where_it_was_made(
        api, beta, sessionmaker, make):
    from portal_graph.accounts import bootstrap
    from portal_graph.scope import admin_scope

    async with sessionmaker() as session, session.begin():
        await bootstrap.add_staff_with_operator_password(
            session, admin_scope(beta.id), email="ops@beta.test", name=None,
            role=models.Role.USER, password=OWN_PASSWORD)
    other = await organization(make, name="Gamma", customers=("Gamma Client",))
    sent = await invited(api, other, "ops@beta.test", "Gamma Client")

    refused = await accept(api, token_of(sent["inviteUrl"]), password=OWN_PASSWORD)

    assert [e["code"] for e in refused["userErrors"]] == ["MAILBOX_NOT_PROVEN"]
