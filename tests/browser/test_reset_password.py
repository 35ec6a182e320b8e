"""Taking an account back in a real browser (docs/RULES.md): "forgot password" on the reset
page, the email at the SMTP server, the emailed link opens the page again, the new password
works and every earlier session and API token is dead. And the accept page for a staff
invitation and for a copied link."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.api import Api
from tests.browser.conftest import Server, emailed_link, screenshot
from tests.browser.portal import LOGIN, Contractor, invite

pytestmark = pytest.mark.slow

OLD_PASSWORD = "kestrel orchard lantern 42"
NEW_PASSWORD = "heron quarry lantern 77"
ACCEPT = """mutation Accept($input: AcceptInvitationInput!) {
  acceptInvitation(input: $input) { token userErrors { code message } } }"""
CREATE_API_TOKEN = """mutation Token { createApiToken(input: {name: "council feed"}) {
  token userErrors { code } } }"""
CREATE_STAFF = """mutation Staff($input: CreateStaffMemberInput!) {
  createStaffMember(input: $input) { inviteUrl userErrors { code message } } }"""
ME = "query Me { me { email } }"


async def client_account(server: Server, api: Api, contractor: Contractor,
                         email: str) -> dict[str, str]:
    """A client who accepted their emailed invitation: a session and an API token."""
    await invite(api, contractor, email)
    link = await emailed_link(server, email)
    accepted = (await api(ACCEPT, {"input": {"token": link.rsplit("/", 1)[1],
                                             "password": OLD_PASSWORD}}))["acceptInvitation"]
    assert accepted["userErrors"] == [], accepted
    made = (await api(CREATE_API_TOKEN, None, accepted["token"]))["createApiToken"]
    return {"session": accepted["token"], "api_token": made["token"]}


async def login(api: Api, email: str, password: str) -> dict[str, Any]:
    return (await api(LOGIN, {"input": {"email": email, "password": password}}))["login"]  # type: ignore[no-any-return]


async def test_a_forgotten_password_is_reset_from_the_email_and_old_credentials_die(
        server, api, contractor, page, page_errors):
    email = "robin.ashe@millbrook.example"
    before = await client_account(server, api, contractor, email)

    await page.goto(server.reset_url)
    await expect(page.locator("#request-view")).to_be_visible()
    await page.fill("#email", email)
    await page.click("#request-submit")
    await expect(page.locator("#sent-view")).to_be_visible()
    await expect(page.locator("#sent-email")).to_have_text(email)
    await screenshot(page, "reset-1-requested")

    link = await emailed_link(server, email, base=server.reset_url)
    await page.goto(link)
    await expect(page.locator("#reset-view")).to_be_visible()
    await page.fill("#password", NEW_PASSWORD)
    await page.fill("#confirm", NEW_PASSWORD)
    await page.click("#reset-submit")
    await expect(page.locator("#done-view")).to_be_visible()
    await expect(page.locator("#status")).to_have_text("Your password is changed.")
    await screenshot(page, "reset-2-done")

    assert (await login(api, email, NEW_PASSWORD))["token"]
    assert (await login(api, email, OLD_PASSWORD))["userErrors"][0]["code"] == (
        "INVALID_CREDENTIALS")
    for credential in before.values():
        assert await api.is_refused(credential)
    # The link worked once.
    await page.goto(link)
    await page.fill("#password", "another quarry lantern 9")
    await page.fill("#confirm", "another quarry lantern 9")
    await page.click("#reset-submit")
    await expect(page.locator("#problem-view")).to_be_visible()
    assert page_errors == []


async def test_asking_for_an_unknown_email_looks_the_same(server, page, page_errors):
    await page.goto(server.reset_url)
    await page.fill("#email", "nobody.here@millbrook.example")
    await page.click("#request-submit")

    await expect(page.locator("#sent-view")).to_be_visible()
    assert page_errors == []


async def test_a_staff_invitation_shows_the_role_and_sets_a_password(
        server, api, contractor, page, page_errors):
    email = "sasha.lead@oakfield.example"
    made = (await api(CREATE_STAFF, {"input": {"email": email, "role": "MANAGER"}},
                      contractor.admin_token))["createStaffMember"]
    assert made["userErrors"] == []
    link = await emailed_link(server, email)

    await page.goto(link)

    await expect(page.locator("#invitation-view")).to_be_visible()
    await expect(page.locator("#role-name")).to_have_text("Manager")
    await expect(page.locator("#customers-detail")).to_be_hidden()
    await page.fill("#password", NEW_PASSWORD)
    await page.fill("#confirm", NEW_PASSWORD)
    await page.click("#submit")
    await expect(page.locator("#welcome-view")).to_be_visible()
    await screenshot(page, "accept-5-staff")
    assert (await login(api, email, NEW_PASSWORD))["token"]
    assert page_errors == []


async def test_a_copied_link_does_not_say_whether_the_email_has_an_account(
        server, api, contractor, page, page_errors):
    invited = await invite(api, contractor, "casey.copied@quayside.example")

    await page.goto(invited["inviteUrl"])

    await expect(page.locator("#invitation-view")).to_be_visible()
    await expect(page.locator("#account-note")).to_contain_text(
        "If this email already has an account")
    await expect(page.locator("#forgot")).to_be_visible()
    assert page_errors == []
