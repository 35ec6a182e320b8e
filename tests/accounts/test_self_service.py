"""A signed-in person changes their own password (the current one required; their other
sessions end) and their name (docs/RULES.md)."""

from __future__ import annotations

from typing import Any

import pytest

from portal_graph.db import models
from portal_graph.ratelimit import Limit, RateLimits
from tests.factories import INVALID_TOKEN, PASSWORD
from tests.invitations.support import AUDIT, only

CHANGE = """mutation($current: String!, $new: String!) {
  changePassword(input: {currentPassword: $current, newPassword: $new}) {
    changed otherSessionsEnded userErrors { code field } } }"""
PROFILE = """mutation($name: String!) { updateProfile(input: {name: $name}) {
  viewer { name email } userErrors { code field } } }"""
LOGIN = """mutation($password: String!) {
  login(input: {email: "dana@acme.test", password: $password}) { token userErrors { code } } }"""
ME = "{ me { email name } }"
CREATE_API_TOKEN = """mutation { createApiToken(input: {name: "feed"}) { token } }"""
NEW = "a brand new passphrase"


@pytest.fixture
async def signed_in(api: Any, make: Any) -> dict[str, Any]:
    """Dana, admin at Acme and user at Beta: two sessions at Acme, one at Beta, and an API
    token at Acme."""
    acme, beta = await make.organization(name="Acme"), await make.organization(name="Beta")
    staff = await make.staff(acme, email="dana@acme.test")
    await make.staff(beta, role=models.Role.USER, person=staff["person"])
    person_id = staff["person"]["id"]
    here = await make.session_token(acme, person_id)
    return {"here": here, "phone": await make.session_token(acme, person_id),
            "beta": await make.session_token(beta, person_id),
            "api_token": only(await api(CREATE_API_TOKEN, token=here))["token"]}


async def test_changing_the_password_ends_the_other_sessions_everywhere_but_not_tokens(
        api, signed_in):
    changed = only(await api(CHANGE, {"current": PASSWORD, "new": NEW},
                             token=signed_in["here"]))

    assert changed == {"changed": True, "otherSessionsEnded": 2, "userErrors": []}
    assert only(await api(ME, token=signed_in["here"]))["email"] == "dana@acme.test"
    for other in (signed_in["phone"], signed_in["beta"]):
        assert await api(ME, token=other) == INVALID_TOKEN
    assert only(await api(ME, token=signed_in["api_token"]))["email"] == "dana@acme.test"
    assert only(await api(LOGIN, {"password": PASSWORD}))["userErrors"] == [
        {"code": "INVALID_CREDENTIALS"}]
    assert only(await api(LOGIN, {"password": NEW}))["userErrors"] == [
        {"code": "ORGANIZATION_REQUIRED"}]


@pytest.mark.parametrize(("current", "new", "code", "field"), [
    ("not my password", NEW, "INVALID_CREDENTIALS", "currentPassword"),
    (PASSWORD, "short", "WEAK_PASSWORD", "newPassword"),
    (PASSWORD, "dana@acme.test", "WEAK_PASSWORD", "newPassword"),
])
async def test_a_refused_change_changes_nothing(api, signed_in, current, new, code, field):
    refused = only(await api(CHANGE, {"current": current, "new": new},
                             token=signed_in["here"]))

    assert refused["userErrors"] == [{"code": code, "field": ["input", field]}]
    assert only(await api(ME, token=signed_in["phone"]))["email"] == "dana@acme.test"
    assert only(await api(LOGIN, {"password": PASSWORD}))["userErrors"] == [
        {"code": "ORGANIZATION_REQUIRED"}]


async def test_guesses_of_the_current_password_count_against_the_login_limit(
        api, signed_in, runtime, monkeypatch):
    monkeypatch.setattr(runtime, "rate_limits", RateLimits(login_per_email=Limit(3, 900)))
    for n in range(3):
        only(await api(CHANGE, {"current": f"guess {n}", "new": NEW}, token=signed_in["here"]))

    right = only(await api(CHANGE, {"current": PASSWORD, "new": NEW}, token=signed_in["here"]))

    assert [e["code"] for e in right["userErrors"]] == ["RATE_LIMITED"]
    assert only(await api(LOGIN, {"password": PASSWORD}))["userErrors"] == [
        {"code": "RATE_LIMITED"}]


async def test_the_change_is_in_each_organizations_audit_log(api, signed_in):
    only(await api(CHANGE, {"current": PASSWORD, "new": NEW}, token=signed_in["here"]))

    events = [e["node"] for e in only(await api(AUDIT, token=signed_in["here"]))["edges"]]

    assert [(e["action"], e["targetEmail"]) for e in events] == [
        ("PASSWORD_CHANGED", "dana@acme.test")]


async def test_a_person_changes_their_name_for_every_organization(api, signed_in):
    updated = only(await api(PROFILE, {"name": "  Dana   Scully "}, token=signed_in["here"]))

    assert updated == {"viewer": {"name": "Dana Scully", "email": "dana@acme.test"},
                       "userErrors": []}
    assert only(await api(ME, token=signed_in["beta"]))["name"] == "Dana Scully"


async def test_an_empty_name_is_refused(api, signed_in):
    refused = only(await api(PROFILE, {"name": "   "}, token=signed_in["here"]))

    assert refused == {"viewer": None, "userErrors": [{"code": "INVALID_INPUT",
                                                       "field": ["input", "name"]}]}


@pytest.mark.parametrize(("document", "variables"), [
    (CHANGE, {"current": PASSWORD, "new": NEW}),
    (PROFILE, {"name": "Someone Else"}),
], ids=["changePassword", "updateProfile"])
async def test_an_api_token_cannot_change_its_owners_account(api, signed_in, document,
                                                             variables):
    refused = await api(document, variables, token=signed_in["api_token"])

    assert refused.get("data") is None
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    assert only(await api(LOGIN, {"password": PASSWORD}))["userErrors"] == [
        {"code": "ORGANIZATION_REQUIRED"}]
