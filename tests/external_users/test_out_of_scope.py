"""Out of scope (docs/RULES.md: 'external users, invitations, audit log' are ADMIN only;
'the External Users option appears only for admins'; docs/INVITATIONS.md: 'You don't see
Invite client user'). Members and leads are refused with FORBIDDEN; for external users and
anonymous callers these operations do not exist (the error of an unknown name); an admin of
another organization finds nothing (NOT_FOUND, null, empty lists)."""

from __future__ import annotations

import pytest

from portal_graph.db import models
from tests.invitations.support import (
    AUDIT,
    EXTERNAL_USERS,
    INVITATIONS,
    INVITE,
    RESEND,
    REVOKE_ACCESS,
    REVOKE_ALL,
    REVOKE_INVITATION,
    SET_CUSTOMERS,
    codes,
    external_user_id,
    invited,
    only,
    organization,
    signed_up,
)

CUSTOMER_ADMIN_FIELDS = """query($id: ID!) { customer(id: $id) {
  externalUsers { email } pendingInvitations { email } } }"""
NODE = "query($id: ID!) { node(id: $id) { id } }"
MUTATION_FIELDS = '{ __type(name: "Mutation") { fields { name } } }'
QUERY_FIELDS = '{ __type(name: "Query") { fields { name } } }'
ADMIN_ONLY_MUTATIONS = {"inviteExternalUser", "resendInvitation", "revokeInvitation",
                        "revokeExternalAccess", "revokeAllExternalAccess",
                        "setExternalUserCustomers"}
ADMIN_ONLY_QUERIES = {"externalUsers", "invitations", "auditEvents"}


@pytest.fixture
async def world(api, org, make, sessionmaker):  # type: ignore[no-untyped-def]
    """An organization with an external user, a pending invitation and callers of each kind."""
    ana_session, accepted_id = await signed_up(api, org, "ana@client.example",
                                               "Riverside Council")
    pending = await invited(api, org, "pending@client.example", "Harbour Works")
    manager = await make.staff(org.id, role=models.Role.MANAGER)
    user = await make.staff(org.id, role=models.Role.USER)
    return {
        "ids": {"user": await external_user_id(sessionmaker, org, "ana@client.example"),
                "invitation": pending["invitation"]["id"], "accepted": accepted_id,
                "customer": org.customer("Riverside Council")},
        "tokens": {"MANAGER": await make.session_token(org.id, manager["person"]["id"]),
                   "USER": await make.session_token(org.id, user["person"]["id"]),
                   "EXTERNAL": ana_session},
    }


def _operations(ids):  # type: ignore[no-untyped-def]
    return [
        (EXTERNAL_USERS, {}), (INVITATIONS, {}), (AUDIT, {}),
        (CUSTOMER_ADMIN_FIELDS, {"id": ids["customer"]}),
        (INVITE, {"input": {"email": "x@client.example", "customerIds": [ids["customer"]]}}),
        (RESEND, {"id": ids["invitation"]}), (REVOKE_INVITATION, {"id": ids["invitation"]}),
        (REVOKE_ACCESS, {"user": ids["user"], "customer": ids["customer"]}),
        (REVOKE_ALL, {"user": ids["user"]}),
        (SET_CUSTOMERS, {"user": ids["user"], "customers": [ids["customer"]]}),
    ]


@pytest.mark.parametrize(("caller", "code"), [
    ("MANAGER", "FORBIDDEN"), ("USER", "FORBIDDEN"),
    ("EXTERNAL", "GRAPHQL_VALIDATION_FAILED"),  # not in their schema: hidden means unknown
])
async def test_members_and_leads_are_FORBIDDEN_and_external_users_find_nothing_to_call(
        api, world, caller, code, sessionmaker):
    before = await _state(sessionmaker)
    for query, variables in _operations(world["ids"]):
        result = await api(query, variables, token=world["tokens"][caller])
        assert {e["extensions"]["code"] for e in result["errors"]} == {code}, query
    assert await _state(sessionmaker) == before


async def test_for_anonymous_callers_the_operations_do_not_exist(api, world):
    for query, variables in _operations(world["ids"]):
        result = await api(query, variables)
        assert {e["extensions"]["code"] for e in result["errors"]} \
            == {"GRAPHQL_VALIDATION_FAILED"}, query


@pytest.mark.parametrize("caller", ["MANAGER", "USER", "EXTERNAL"])
async def test_non_admins_do_not_see_the_invite_action_or_lists_in_their_schema(api, world,
                                                                                caller):
    token = world["tokens"][caller]
    mutations = await api(MUTATION_FIELDS, token=token)
    queries = await api(QUERY_FIELDS, token=token)

    if "errors" in mutations:  # introspection may be off for this audience: nothing shows
        return
    mutation_type = mutations["data"]["__type"]
    names = {f["name"] for f in (mutation_type or {}).get("fields") or []}
    assert not names & ADMIN_ONLY_MUTATIONS
    assert not {f["name"] for f in queries["data"]["__type"]["fields"]} & ADMIN_ONLY_QUERIES


@pytest.mark.parametrize("caller", ["MANAGER", "USER", "EXTERNAL"])
async def test_non_admins_get_null_for_external_user_and_invitation_ids(api, world, caller):
    for key in ("user", "invitation", "accepted"):
        result = await api(NODE, {"id": world["ids"][key]}, token=world["tokens"][caller])
        assert result["data"] == {"node": None}


async def test_an_admin_of_another_organization_finds_nothing(api, make, world, sessionmaker):
    other = await organization(make, name="Rival Contractor", customers=("Own Customer",))
    ids = world["ids"]
    before = await _state(sessionmaker)

    listed = [only(await api(q, {}, token=other.token)) for q in (EXTERNAL_USERS, INVITATIONS)]
    audit = only(await api(AUDIT, token=other.token))
    nodes = [only(await api(NODE, {"id": ids[k]}, token=other.token))
             for k in ("user", "invitation", "accepted")]
    customer = only(await api(CUSTOMER_ADMIN_FIELDS, {"id": ids["customer"]}, token=other.token))
    refused = [only(await api(q, v, token=other.token)) for q, v in _operations(ids)[5:]]
    invite = only(await api(INVITE, {"input": {"email": "x@client.example",
                                               "customerIds": [ids["customer"]]}},
                            token=other.token))

    assert [page["edges"] for page in listed] == [[], []]
    assert [e["node"]["action"] for e in audit["edges"]] == []
    assert nodes == [None, None, None]
    assert customer is None
    assert [codes(r) for r in refused] == [["NOT_FOUND"]] * len(refused)
    assert codes(invite) == ["NOT_FOUND"]
    assert await _state(sessionmaker) == before


async def _state(sessionmaker):  # type: ignore[no-untyped-def]
    """A fingerprint of everything these operations could change."""
    from tests.invitations.support import sql

    return await sql(sessionmaker, """SELECT
        (SELECT string_agg(state || ':' || encode(token_hash, 'hex') || ':' || expires_at,
                           ',' ORDER BY id) FROM invitations),
        (SELECT string_agg(external_user_id || ':' || customer_id, ',' ORDER BY 1)
           FROM customer_grants),
        (SELECT string_agg(coalesce(access_revoked_at::text, '-'), ',') FROM external_users),
        (SELECT count(*) FROM email_outbox), (SELECT count(*) FROM audit_events),
        (SELECT count(*) FROM sessions WHERE ended_at IS NULL)""")
