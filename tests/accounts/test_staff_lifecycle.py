"""The staff lifecycle ("change a user's role", "access level"): admins change roles,
deactivate and reactivate members; changes apply on the member's next request; an organization
always keeps an active admin."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id
from tests.factories import INVALID_TOKEN, PASSWORD
from tests.invitations.support import AUDIT, only, scalar

SET_ROLE = """mutation($id: ID!, $role: Role!) {
  setStaffRole(input: {staffMemberId: $id, role: $role}) {
    staffMember { id role deactivatedAt } userErrors { code field message } } }"""
DEACTIVATE = """mutation($id: ID!) { deactivateStaffMember(input: {staffMemberId: $id}) {
  staffMember { id role deactivatedAt } userErrors { code field message } } }"""
REACTIVATE = """mutation($id: ID!) { reactivateStaffMember(input: {staffMemberId: $id}) {
  staffMember { id role deactivatedAt } userErrors { code field message } } }"""
STAFF = "{ staffMembers { totalCount edges { node { email role deactivatedAt } } } }"
ME = "{ me { email audience role } }"
CREATE_API_TOKEN = """mutation { createApiToken(input: {name: "feed"}) { token } }"""
LOGIN = """mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token userErrors { code } } }"""


ROUNDS = 10


def gid(member: dict[str, Any]) -> str:
    return to_global_id("StaffMember", member["id"])


@pytest.fixture
async def team(make: Any) -> dict[str, Any]:
    org = await make.organization(name="Evergreen Grounds")
    admin = await make.staff(org, email="admin@evergreen.test")
    manager = await make.staff(org, role=models.Role.MANAGER, email="manager@evergreen.test")
    return {"org": org, "admin": admin, "manager": manager,
            "admin_token": await make.session_token(org, admin["person"]["id"]),
            "manager_token": await make.session_token(org, manager["person"]["id"])}


async def test_a_new_role_applies_to_the_members_next_request(api, team):
    before = only(await api(ME, token=team["manager_token"]))

    changed = only(await api(SET_ROLE, {"id": gid(team["manager"]), "role": "ADMIN"},
                             token=team["admin_token"]))

    assert changed["userErrors"] == [] and changed["staffMember"]["role"] == "ADMIN"
    assert before["audience"] == "STAFF"
    assert only(await api(ME, token=team["manager_token"]))["audience"] == "ADMIN"


async def test_a_deactivated_member_acts_for_nobody_from_the_next_request(api, team, make):
    api_token = only(await api(CREATE_API_TOKEN, token=team["manager_token"]))["token"]

    done = only(await api(DEACTIVATE, {"id": gid(team["manager"])}, token=team["admin_token"]))

    assert done["userErrors"] == [] and done["staffMember"]["deactivatedAt"]
    for credential in (team["manager_token"], api_token):
        assert await api(ME, token=credential) == INVALID_TOKEN
    login = only(await api(LOGIN, {"email": "manager@evergreen.test", "password": PASSWORD}))
    assert login["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]
    listed = only(await api(STAFF, token=team["admin_token"]))
    assert {e["node"]["email"]: bool(e["node"]["deactivatedAt"]) for e in listed["edges"]} == {
        "admin@evergreen.test": False, "manager@evergreen.test": True}


async def test_a_reactivated_member_signs_in_again_but_old_credentials_stay_dead(api, team):
    only(await api(DEACTIVATE, {"id": gid(team["manager"])}, token=team["admin_token"]))

    back = only(await api(REACTIVATE, {"id": gid(team["manager"])}, token=team["admin_token"]))

    assert back["userErrors"] == [] and back["staffMember"]["deactivatedAt"] is None
    login = only(await api(LOGIN, {"email": "manager@evergreen.test", "password": PASSWORD}))
    assert login["token"]
    assert await api(ME, token=team["manager_token"]) == INVALID_TOKEN


async def test_deactivation_here_leaves_the_persons_other_organizations_alone(api, team, make):
    elsewhere = await make.organization(name="Elsewhere")
    await make.staff(elsewhere, role=models.Role.USER, person=team["manager"]["person"])
    there = await make.session_token(elsewhere, team["manager"]["person"]["id"])

    only(await api(DEACTIVATE, {"id": gid(team["manager"])}, token=team["admin_token"]))

    assert only(await api(ME, token=there))["role"] == "USER"


@pytest.mark.parametrize("operation", ["demote", "deactivate"])
async def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(api, team,
                                                                            operation):
    document, variables = ((SET_ROLE, {"role": "MANAGER"}) if operation == "demote"
                           else (DEACTIVATE, {}))

    refused = only(await api(document, {"id": gid(team["admin"]), **variables},
                             token=team["admin_token"]))

    assert refused["staffMember"] is None
    assert [e["code"] for e in refused["userErrors"]] == ["LAST_ADMIN"]
    assert only(await api(ME, token=team["admin_token"]))["role"] == "ADMIN"


async def test_a_deactivated_admin_does_not_count_as_the_active_admin(api, team, make):
    second = await make.staff(team["org"], email="second@evergreen.test")
    only(await api(DEACTIVATE, {"id": gid(second)}, token=team["admin_token"]))

    refused = only(await api(SET_ROLE, {"id": gid(team["admin"]), "role": "USER"},
                             token=team["admin_token"]))

    assert [e["code"] for e in refused["userErrors"]] == ["LAST_ADMIN"]


@pytest.mark.parametrize("change", ["demote", "deactivate"])
async def test_two_admins_removing_each_other_at_once_leave_exactly_one_admin(api, make,
                                                                             sessionmaker,
                                                                             change):
    document, variables = ((SET_ROLE, {"role": "USER"}) if change == "demote"
                           else (DEACTIVATE, {}))
    raced = 0
    for _ in range(ROUNDS):
        org = await make.organization()
        first, second = await make.staff(org), await make.staff(org)
        tokens = [await make.session_token(org, m["person"]["id"]) for m in (first, second)]

        results = await asyncio.gather(
            api(document, {"id": gid(second), **variables}, token=tokens[0]),
            api(document, {"id": gid(first), **variables}, token=tokens[1]))

        outcomes = sorted((outcome(r) for r in results), key=lambda o: o != "ok")
        # The loser either raced into the lock (LAST_ADMIN), or started after the winner's
        # change and was no longer an admin at all (refused before running).
        assert outcomes[0] == "ok" and outcomes[1] in ("LAST_ADMIN", "FORBIDDEN",
                                                       "UNAUTHENTICATED"), results
        raced += outcomes[1] == "LAST_ADMIN"
        assert await scalar(sessionmaker, """SELECT count(*) FROM staff_members
            WHERE organization_id = :org AND role = 'ADMIN' AND deactivated_at IS NULL""",
                            org=org) == 1
    assert raced, "no round raced; the lock was not exercised"


def outcome(result: dict[str, Any]) -> str:
    if result.get("errors"):
        return str(result["errors"][0]["extensions"]["code"])
    errors = next(iter(result["data"].values()))["userErrors"]
    return "ok" if not errors else str(errors[0]["code"])


async def test_another_organizations_staff_is_not_found(api, team, make):
    elsewhere = await make.organization()
    stranger = await make.staff(elsewhere)

    refused = only(await api(DEACTIVATE, {"id": gid(stranger)}, token=team["admin_token"]))

    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("NOT_FOUND", ["input", "staffMemberId"])]


async def test_role_changes_and_deactivations_are_audited(api, team):
    only(await api(SET_ROLE, {"id": gid(team["manager"]), "role": "USER"},
                   token=team["admin_token"]))
    only(await api(DEACTIVATE, {"id": gid(team["manager"])}, token=team["admin_token"]))
    only(await api(REACTIVATE, {"id": gid(team["manager"])}, token=team["admin_token"]))

    events = [e["node"] for e in only(await api(AUDIT, token=team["admin_token"]))["edges"]]

    assert [(e["action"], e["targetEmail"], e["actor"]["email"]) for e in events] == [
        ("STAFF_REACTIVATED", "manager@evergreen.test", "admin@evergreen.test"),
        ("STAFF_DEACTIVATED", "manager@evergreen.test", "admin@evergreen.test"),
        ("STAFF_ROLE_CHANGED", "manager@evergreen.test", "admin@evergreen.test")]
