"""Taking access away and changing scope (docs/INVITATIONS.md: 'revoke one customer',
'revoke all', 'update scope'; 'Revoking access'): exact effects, every failure code,
and that a revocation applies to the very next request of every session and API token."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import PASSWORD
from tests.invitations.support import (
    AUDIT,
    INVITATIONS,
    MY_PORTAL,
    PREVIEW,
    REVOKE_ACCESS,
    REVOKE_ALL,
    SET_CUSTOMERS,
    accept,
    codes,
    emailed_link,
    external_user_id,
    gid,
    invited,
    only,
    organization,
    scalar,
    signed_up,
    token_of,
)

CREATE_API_TOKEN = """mutation { createApiToken(input: {name: "council sync"}) { token } }"""
CUSTOMER = "query($id: ID!) { customer(id: $id) { name } }"
LOGIN = """mutation($email: String!, $password: String!, $org: ID) {
  login(input: {email: $email, password: $password, organizationId: $org}) {
    token userErrors { code } } }"""


def _names(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["node"]["name"] for e in result["data"]["customers"]["edges"]]


@pytest.fixture
async def ana(api, org, sessionmaker):  # type: ignore[no-untyped-def]
    """An external user with two customers, signed in, with an API token too."""
    session, _ = await signed_up(api, org, "ana@client.example", "Riverside Council",
                                 "Harbour Works")
    api_token = only(await api(CREATE_API_TOKEN, token=session))["token"]
    user = await external_user_id(sessionmaker, org, "ana@client.example")
    return {"session": session, "api_token": api_token, "id": user}


async def test_revoke_one_customer_removes_only_that_grant(api, org, ana):
    result = only(await api(REVOKE_ACCESS, {"user": ana["id"],
                                            "customer": org.customer("Harbour Works")},
                            token=org.token))

    assert result["userErrors"] == []
    assert result["externalUser"] == {"id": ana["id"], "status": "ACTIVE",
                                      "customers": [{"name": "Riverside Council"}]}


@pytest.mark.parametrize("credential", ["session", "api_token"])
async def test_a_revoked_customer_is_gone_on_the_very_next_request(api, org, ana, credential):
    token = ana[credential]
    assert _names(await api(MY_PORTAL, token=token)) == ["Harbour Works", "Riverside Council"]

    only(await api(REVOKE_ACCESS, {"user": ana["id"], "customer": org.customer("Harbour Works")},
                   token=org.token))

    assert _names(await api(MY_PORTAL, token=token)) == ["Riverside Council"]
    assert only(await api(CUSTOMER, {"id": org.customer("Harbour Works")}, token=token)) is None


async def test_revoking_the_last_customer_keeps_the_account_with_an_empty_portal(api, org, ana):
    for name in ("Harbour Works", "Riverside Council"):
        only(await api(REVOKE_ACCESS, {"user": ana["id"], "customer": org.customer(name)},
                       token=org.token))

    portal = await api(MY_PORTAL, token=ana["session"])
    jobs = await api("{ jobs { totalCount edges { node { id } } } }", token=ana["session"])

    assert "errors" not in portal and _names(portal) == []
    assert portal["data"]["me"]["email"] == "ana@client.example"
    assert jobs["data"]["jobs"] == {"totalCount": 0, "edges": []}
    listed = only(await api("{ externalUsers { edges { node { status } } } }", token=org.token))
    assert listed["edges"] == [{"node": {"status": "NO_ACCESS"}}]


async def test_NOT_FOUND_revoke_one_for_an_unknown_user_or_an_ungranted_customer(api, org, ana):
    unknown_user = only(await api(REVOKE_ACCESS, {
        "user": gid("ExternalUser", uuid.uuid4()), "customer": org.customer("Harbour Works")},
        token=org.token))
    not_granted = only(await api(REVOKE_ACCESS, {
        "user": ana["id"], "customer": org.customer("Northgate Park")}, token=org.token))
    garbage = only(await api(REVOKE_ACCESS, {"user": ana["id"], "customer": "garbage"},
                             token=org.token))

    assert [(e["code"], e["field"]) for e in unknown_user["userErrors"]] == [
        ("NOT_FOUND", ["input", "externalUserId"])]
    assert [(e["code"], e["field"]) for e in not_granted["userErrors"]] == [
        ("NOT_FOUND", ["input", "customerId"])]
    assert codes(garbage) == ["NOT_FOUND"]


async def test_revoke_all_removes_grants_pending_invites_sessions_and_api_tokens(
        api, org, ana, sessionmaker):
    pending = await invited(api, org, "ana@client.example", "Northgate Park")

    result = only(await api(REVOKE_ALL, {"user": ana["id"]}, token=org.token))

    assert result["userErrors"] == []
    assert result["externalUser"] == {"id": ana["id"], "status": "REVOKED", "customers": []}
    for credential in ("session", "api_token"):
        after = await api(MY_PORTAL, token=ana[credential])
        assert after["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert only(await api(PREVIEW, {"token": token_of(pending["inviteUrl"])})) is None
    statuses = only(await api(INVITATIONS, {}, token=org.token))
    assert sorted(e["node"]["status"] for e in statuses["edges"]) == ["ACCEPTED", "REVOKED"]
    assert await scalar(sessionmaker, "SELECT count(*) FROM email_outbox "
                                      "WHERE status = 'QUEUED'") == 1  # only the first email
    login = only(await api(LOGIN, {"email": "ana@client.example", "password": PASSWORD}))
    assert codes(login) == ["INVALID_CREDENTIALS"]  # no organization left to sign in to


async def test_revoke_all_keeps_the_account_and_other_organizations_untouched(
        api, org, make, ana, sessionmaker, runtime):
    other = await organization(make, name="Second Contractor", customers=("Their Site",))
    elsewhere = await invited(api, other, "ana@client.example", "Their Site")
    emailed = await emailed_link(sessionmaker, runtime.box, elsewhere["invitation"]["id"])
    there = await accept(api, token_of(emailed))
    assert there["userErrors"] == []

    only(await api(REVOKE_ALL, {"user": ana["id"]}, token=org.token))

    assert _names(await api(MY_PORTAL, token=there["token"])) == ["Their Site"]
    assert await scalar(sessionmaker, "SELECT count(*) FROM persons "
                                      "WHERE email_normalized = 'ana@client.example'") == 1
    login = only(await api(LOGIN, {"email": "ana@client.example",
                                   "password": "a long and private passphrase"}))
    assert login["userErrors"] == [] and login["token"]


async def test_revoke_all_can_be_undone_only_by_inviting_again(api, org, ana):
    only(await api(REVOKE_ALL, {"user": ana["id"]}, token=org.token))

    again = await invited(api, org, "ana@client.example", "Northgate Park")
    back = await accept(api, token_of(again["inviteUrl"]),
                        password="a long and private passphrase")

    assert back["userErrors"] == []
    assert _names(await api(MY_PORTAL, token=back["token"])) == ["Northgate Park"]


async def test_NOT_FOUND_revoke_all_for_an_unknown_user(api, org):
    result = only(await api(REVOKE_ALL, {"user": gid("ExternalUser", uuid.uuid4())},
                            token=org.token))

    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("NOT_FOUND", ["input", "externalUserId"])]


async def test_update_scope_sets_exactly_the_given_customers(api, org, ana):
    result = only(await api(SET_CUSTOMERS, {"user": ana["id"], "customers": [
        org.customer("Northgate Park"), org.customer("Riverside Council")]}, token=org.token))

    assert result["userErrors"] == []
    assert result["externalUser"]["customers"] == [{"name": "Northgate Park"},
                                                   {"name": "Riverside Council"}]
    assert _names(await api(MY_PORTAL, token=ana["session"])) == [
        "Northgate Park", "Riverside Council"]


async def test_NO_COMPANY_SELECTED_update_scope_to_nothing(api, org, ana):
    result = only(await api(SET_CUSTOMERS, {"user": ana["id"], "customers": []},
                            token=org.token))

    assert result["userErrors"] == [{"code": "NO_COMPANY_SELECTED",
                                     "field": ["input", "customerIds"],
                                     "message": "Select at least one company"}]
    assert _names(await api(MY_PORTAL, token=ana["session"])) == [
        "Harbour Works", "Riverside Council"]


async def test_NOT_FOUND_update_scope_with_another_organizations_customer(api, org, make, ana):
    other = await make.organization()
    foreign = await make.customer(other)

    result = only(await api(SET_CUSTOMERS, {"user": ana["id"], "customers": [
        org.customer("Northgate Park"), gid("Customer", foreign)]}, token=org.token))
    unknown_user = only(await api(SET_CUSTOMERS, {"user": gid("ExternalUser", uuid.uuid4()),
                                                  "customers": [org.customer("Northgate Park")]},
                                  token=org.token))

    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("NOT_FOUND", ["input", "customerIds"])]
    assert codes(unknown_user) == ["NOT_FOUND"]
    assert _names(await api(MY_PORTAL, token=ana["session"])) == [
        "Harbour Works", "Riverside Council"]


async def test_update_scope_gives_a_revoked_person_access_again(api, org, ana):
    only(await api(REVOKE_ALL, {"user": ana["id"]}, token=org.token))

    result = only(await api(SET_CUSTOMERS, {"user": ana["id"], "customers": [
        org.customer("Northgate Park")]}, token=org.token))

    assert result["externalUser"]["status"] == "ACTIVE"
    login = only(await api(LOGIN, {"email": "ana@client.example",
                                   "password": "a long and private passphrase"}))
    assert _names(await api(MY_PORTAL, token=login["token"])) == ["Northgate Park"]


async def test_revoke_revoke_all_and_scope_changes_are_audited(api, org, ana):
    only(await api(SET_CUSTOMERS, {"user": ana["id"], "customers": [
        org.customer("Northgate Park"), org.customer("Riverside Council")]}, token=org.token))
    only(await api(REVOKE_ACCESS, {"user": ana["id"],
                                   "customer": org.customer("Northgate Park")}, token=org.token))
    only(await api(REVOKE_ALL, {"user": ana["id"]}, token=org.token))

    events = [e["node"] for e in only(await api(AUDIT, token=org.token))["edges"]]

    assert [(e["action"], [c["name"] for c in e["customers"]]) for e in events[:3]] == [
        ("ALL_ACCESS_REVOKED", ["Riverside Council"]),
        ("ACCESS_REVOKED", ["Northgate Park"]),
        ("CUSTOMERS_SET", ["Northgate Park", "Riverside Council"])]
    assert all(e["actor"]["email"] == org.admin["email"] for e in events[:3])
    assert all(e["targetEmail"] == "ana@client.example" for e in events[:3])
    assert all(e["clientAddress"] == "203.0.113.7" for e in events[:3])
