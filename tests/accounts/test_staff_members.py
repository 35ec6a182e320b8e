"""createStaffMember: admins add employee logins; bad input writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal_graph.db import models
from tests.factories import PASSWORD

CREATE = """
mutation($input: CreateStaffMemberInput!) {
  createStaffMember(input: $input) {
    member { id email name role }
    userErrors { code field message }
  }
}"""
LOGIN = """mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p})
  { token userErrors { code } } }"""


async def test_an_admin_adds_a_manager_who_can_then_sign_in(api, make):
    org = await make.organization()
    admin = await make.staff(org)
    token = await make.session_token(org, admin["person"]["id"])

    result = await api(CREATE, {"input": {"email": "lead@example.com", "name": "Lee Lead",
                                          "role": "MANAGER", "password": "a long new password"}},
                       token=token)

    member = result["data"]["createStaffMember"]
    assert member["userErrors"] == []
    assert member["member"]["role"] == "MANAGER"
    login = await api(LOGIN, {"e": "lead@example.com", "p": "a long new password"})
    assert login["data"]["login"]["token"]


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"email": "not-an-email"}, "INVALID_EMAIL", ["input", "email"]),
    ({"password": "short"}, "WEAK_PASSWORD", ["input", "password"]),
    ({"password": "dup@example.com"}, "WEAK_PASSWORD", ["input", "password"]),
    ({"email": "ADMIN@example.com"}, "DUPLICATE_EMAIL", ["input", "email"]),
])
async def test_bad_input_is_refused_and_nothing_is_written(api, make, sessionmaker, change, code,
                                                           field):
    org = await make.organization()
    admin = await make.staff(org, email="admin@example.com")
    token = await make.session_token(org, admin["person"]["id"])
    base = {"email": "dup@example.com", "role": "USER", "password": "a long new password"}

    result = await api(CREATE, {"input": {**base, **change}}, token=token)

    payload = result["data"]["createStaffMember"]
    assert payload["member"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(models.StaffMember)) == 1


async def test_an_external_user_of_the_organization_cannot_become_staff_here(api, make):
    org = await make.organization()
    admin = await make.staff(org)
    customer = await make.customer(org)
    await make.external(org, [customer], email="client@example.com")
    token = await make.session_token(org, admin["person"]["id"])

    result = await api(CREATE, {"input": {"email": "client@example.com", "role": "USER"}},
                       token=token)

    assert result["data"]["createStaffMember"]["userErrors"][0]["code"] == "EXTERNAL_USER"


async def test_a_person_from_another_organization_keeps_their_password(api, make):
    other, org = await make.organization(), await make.organization()
    await make.staff(other, email="roamer@example.com")
    admin = await make.staff(org)
    token = await make.session_token(org, admin["person"]["id"])

    result = await api(CREATE, {"input": {"email": "roamer@example.com", "role": "USER",
                                          "password": "ignored for existing"}}, token=token)

    assert result["data"]["createStaffMember"]["userErrors"] == []
    login = await api(LOGIN, {"e": "roamer@example.com", "p": PASSWORD})
    assert login["data"]["login"]["userErrors"][0]["code"] == "ORGANIZATION_REQUIRED"


@pytest.mark.parametrize("role", [models.Role.MANAGER, models.Role.USER])
async def test_only_admins_may_add_staff(api, make, role):
    org = await make.organization()
    member = await make.staff(org, role=role)
    token = await make.session_token(org, member["person"]["id"])

    result = await api(CREATE, {"input": {"email": "x@example.com", "role": "USER",
                                          "password": "a long new password"}}, token=token)

    assert "data" not in result  # refused at validation, before anything ran
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
