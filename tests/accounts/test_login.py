"""Signing in and out: login, me, logout, organization choice, bad credentials."""

from __future__ import annotations

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id
from tests.factories import INVALID_TOKEN, PASSWORD

LOGIN = """
mutation($email: String!, $password: String!, $org: ID) {
  login(input: {email: $email, password: $password, organizationId: $org}) {
    token
    viewer { email audience role organization { name } memberships { organizationName } }
    organizations { organizationId organizationName role }
    userErrors { code field message }
  }
}"""
ME = "{ me { email audience role organization { id name } } }"
LOGOUT = "mutation { logout { ended } }"


async def test_login_returns_a_token_that_identifies_the_viewer(api, make):
    org = await make.organization(name="Acme Grounds")
    admin = await make.staff(org, email="Admin@Example.com")

    result = await api(LOGIN, {"email": "admin@example.COM", "password": PASSWORD})

    login = result["data"]["login"]
    assert login["userErrors"] == []
    assert login["token"].startswith("pgs_")
    assert login["viewer"]["audience"] == "ADMIN"
    me = await api(ME, token=login["token"])
    assert me["data"]["me"]["email"] == admin["email"]
    assert me["data"]["me"]["organization"]["name"] == "Acme Grounds"


async def test_wrong_password_and_unknown_email_get_the_same_answer(api, make):
    org = await make.organization()
    await make.staff(org, email="known@example.com")

    wrong_password = await api(LOGIN, {"email": "known@example.com", "password": "nope nope nope"})
    unknown_email = await api(LOGIN, {"email": "ghost@example.com", "password": PASSWORD})

    assert wrong_password["data"]["login"] == unknown_email["data"]["login"] == {
        "token": None, "viewer": None, "organizations": None,
        "userErrors": [{"code": "INVALID_CREDENTIALS", "field": None,
                        "message": "Email or password is incorrect."}]}


async def test_a_person_in_two_organizations_must_choose_one(api, make):
    first, second = await make.organization(name="First"), await make.organization(name="Second")
    staff = await make.staff(first, email="both@example.com")
    await make.staff(second, role=models.Role.USER, person=staff["person"])

    unchosen = await api(LOGIN, {"email": "both@example.com", "password": PASSWORD})
    chosen = await api(LOGIN, {"email": "both@example.com", "password": PASSWORD,
                               "org": to_global_id("Organization", second)})

    assert unchosen["data"]["login"]["userErrors"][0]["code"] == "ORGANIZATION_REQUIRED"
    assert unchosen["data"]["login"]["organizations"] == [
        {"organizationId": to_global_id("Organization", first), "organizationName": "First",
         "role": "ADMIN"},
        {"organizationId": to_global_id("Organization", second), "organizationName": "Second",
         "role": "USER"}]
    assert chosen["data"]["login"]["viewer"]["organization"]["name"] == "Second"
    assert chosen["data"]["login"]["viewer"]["role"] == "USER"
    assert {m["organizationName"] for m in chosen["data"]["login"]["viewer"]["memberships"]} \
        == {"First", "Second"}


async def test_the_organizations_are_not_listed_for_a_wrong_password(api, make):
    first, second = await make.organization(), await make.organization()
    staff = await make.staff(first, email="both@example.com")
    await make.staff(second, person=staff["person"])

    result = await api(LOGIN, {"email": "both@example.com", "password": "wrong password!"})

    assert result["data"]["login"]["organizations"] is None
    assert result["data"]["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_an_organization_the_person_does_not_belong_to_is_refused(api, make):
    mine, other = await make.organization(), await make.organization()
    await make.staff(mine, email="me@example.com")

    result = await api(LOGIN, {"email": "me@example.com", "password": PASSWORD,
                               "org": to_global_id("Organization", other)})

    assert result["data"]["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_me_is_null_for_anonymous_callers(api):
    assert (await api("{ me { email } }"))["data"] == {"me": None}


async def test_a_garbage_or_unknown_token_is_refused_with_401_invalid_token(api):
    for token in ("pgs_unknown", "garbage", "pgt_" + "x" * 43):
        assert await api("{ me { email } }", token=token) == INVALID_TOKEN
        assert api.response.status_code == 401
        assert api.response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_logout_ends_the_session(api, make):
    org = await make.organization()
    staff = await make.staff(org)
    token = await make.session_token(org, staff["person"]["id"])

    ended = await api(LOGOUT, token=token)
    after = await api(ME, token=token)

    assert ended["data"]["logout"]["ended"] is True
    assert after == INVALID_TOKEN and api.response.status_code == 401


async def test_switching_organization_gives_a_session_in_the_other_one(api, make):
    first, second = await make.organization(name="First"), await make.organization(name="Second")
    staff = await make.staff(first)
    await make.staff(second, role=models.Role.MANAGER, person=staff["person"])
    token = await make.session_token(first, staff["person"]["id"])

    result = await api("""mutation($org: ID!) { switchOrganization(input: {organizationId: $org})
        { token viewer { organization { name } role } userErrors { code } } }""",
                       {"org": to_global_id("Organization", second)}, token=token)

    switched = result["data"]["switchOrganization"]
    assert switched["viewer"] == {"organization": {"name": "Second"}, "role": "MANAGER"}
    assert await api(ME, token=token) == INVALID_TOKEN  # the old session ended
    assert (await api(ME, token=switched["token"]))["data"]["me"]["organization"]["name"] \
        == "Second"
