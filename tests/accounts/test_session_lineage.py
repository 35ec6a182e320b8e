"""What a credential derives from: a session switched from another records its parent, an API
token the session that made it. Taking a membership away ends everything derived from the
sessions it had, in whichever organization; ending a session ends its descendants; an
integration's token outlives the sign-out of the session that made it."""

from __future__ import annotations

from typing import Any

import pytest

from portal_graph.db import models
from tests.factories import INVALID_TOKEN
from tests.invitations.support import gid, only, scalar

SWITCH = """mutation($org: ID!) { switchOrganization(input: {organizationId: $org}) {
  token userErrors { code } } }"""
CREATE_API_TOKEN = """mutation { createApiToken(input: {name: "feed"}) { token } }"""
REVOKE_API_TOKEN = """mutation($id: ID!) { revokeApiToken(input: {apiTokenId: $id}) {
  revoked userErrors { code } } }"""
API_TOKENS = "{ apiTokens { id name } }"
REVOKE_ALL = """mutation($user: ID!) { revokeAllExternalAccess(input: {externalUserId: $user}) {
  userErrors { code } } }"""
DEACTIVATE = """mutation($id: ID!) { deactivateStaffMember(input: {staffMemberId: $id}) {
  userErrors { code } } }"""
LOGOUT = "mutation { logout { ended } }"
ME = "{ me { email organization { name } } }"


@pytest.fixture
async def dual(make: Any) -> dict[str, Any]:
    """A person external at Beta and MANAGER at Acme, signed in at Beta; both admins."""
    acme, beta = await make.organization(name="Acme"), await make.organization(name="Beta")
    acme_admin, beta_admin = await make.staff(acme), await make.staff(beta)
    manager = await make.staff(acme, role=models.Role.MANAGER, email="dual@acme.test")
    external = await make.external(beta, [await make.customer(beta)], person=manager["person"])
    person_id = manager["person"]["id"]
    return {
        "acme": acme, "beta": beta, "manager": manager, "external": external,
        "at_beta": await make.session_token(beta, person_id),
        "acme_admin": await make.session_token(acme, acme_admin["person"]["id"]),
        "beta_admin": await make.session_token(beta, beta_admin["person"]["id"]),
    }


async def switched_to_acme(api: Any, dual: dict[str, Any]) -> str:
    result = only(await api(SWITCH, {"org": gid("Organization", dual["acme"])},
                            token=dual["at_beta"]))
    assert result["userErrors"] == []
    return result["token"]  # type: ignore[no-any-return]


async def test_a_switched_session_records_the_session_it_came_from(api, dual, sessionmaker):
    child = await switched_to_acme(api, dual)

    lineage = await scalar(sessionmaker, """SELECT parent.organization_id = :beta
        FROM sessions child JOIN sessions parent ON parent.id = child.parent_session_id
        WHERE child.organization_id = :acme""", beta=dual["beta"], acme=dual["acme"])

    assert lineage is True
    assert await api(ME, token=dual["at_beta"]) == INVALID_TOKEN  # the switch ended it
    assert only(await api(ME, token=child))["organization"] == {"name": "Acme"}


async def test_revoking_all_access_at_beta_ends_what_its_sessions_made_at_acme(api, dual):
    child = await switched_to_acme(api, dual)
    made_there = only(await api(CREATE_API_TOKEN, token=child))["token"]

    only(await api(REVOKE_ALL, {"user": gid("ExternalUser", dual["external"]["id"])},
                   token=dual["beta_admin"]))

    assert await api(ME, token=child) == INVALID_TOKEN
    assert await api(ME, token=made_there) == INVALID_TOKEN


async def test_deactivation_at_acme_ends_what_was_switched_from_acme(api, dual, make):
    at_acme = await make.session_token(dual["acme"], dual["manager"]["person"]["id"])
    child = only(await api(SWITCH, {"org": gid("Organization", dual["beta"])},
                           token=at_acme))["token"]

    only(await api(DEACTIVATE, {"id": gid("StaffMember", dual["manager"]["id"])},
                   token=dual["acme_admin"]))

    assert await api(ME, token=child) == INVALID_TOKEN


async def test_a_session_the_person_started_on_their_own_is_not_ended_by_another_org(
        api, dual, make):
    own = await make.session_token(dual["acme"], dual["manager"]["person"]["id"])

    only(await api(REVOKE_ALL, {"user": gid("ExternalUser", dual["external"]["id"])},
                   token=dual["beta_admin"]))

    assert only(await api(ME, token=own))["organization"] == {"name": "Acme"}


async def test_signing_out_leaves_the_integrations_token_running(api, dual):
    api_token = only(await api(CREATE_API_TOKEN, token=dual["at_beta"]))["token"]

    only(await api(LOGOUT, token=dual["at_beta"]))

    assert only(await api(ME, token=api_token))["email"] == "dual@acme.test"


async def test_a_revoked_token_is_dead_on_the_next_request(api, dual):
    api_token = only(await api(CREATE_API_TOKEN, token=dual["at_beta"]))["token"]
    [listed] = only(await api(API_TOKENS, token=dual["at_beta"]))

    revoked = only(await api(REVOKE_API_TOKEN, {"id": listed["id"]}, token=dual["at_beta"]))

    assert revoked == {"revoked": True, "userErrors": []}
    assert await api(ME, token=api_token) == INVALID_TOKEN
