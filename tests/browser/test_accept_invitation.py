"""The invitation, end to end in a real browser: the office invites through the API, the
email's link opens the accept page, the client sets a password and sees their portal."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import emailed_link, screenshot
from tests.browser.portal import (
    GRANTED,
    INVITATION,
    ORGANIZATION,
    RESEND,
    VISIBLE_JOBS,
    invite,
)

pytestmark = pytest.mark.slow


async def test_the_emailed_link_lets_a_client_in_to_see_their_completed_work(
        server, api, contractor, page, page_errors):
    email = "dana.hughes@millbrook.example"
    invited = await invite(api, contractor, email)

    link = await emailed_link(server, email)
    assert link != invited["inviteUrl"]  # the emailed link is its own: it proves the mailbox
    assert link.startswith(server.portal_url)
    await page.goto(link)

    await expect(page.locator("#invitation-view")).to_be_visible()
    await expect(page.locator("#organization-name")).to_have_text(ORGANIZATION)
    assert sorted(await page.locator("#customer-names li").all_inner_texts()) == list(GRANTED)
    await expect(page.locator("#email")).to_have_value(email)
    await screenshot(page, "accept-1-invitation")

    await page.fill("#name", "Dana Hughes")
    await page.fill("#password", "kestrel orchard lantern 42")
    await page.fill("#confirm", "kestrel orchard lantern 42")
    await page.click("#submit")

    await expect(page.locator("#welcome-view")).to_be_visible()
    await expect(page.locator("#status")).to_have_text("Invitation accepted.")
    await expect(page.locator("#welcome-title")).to_have_text("Welcome, Dana Hughes")
    customers = await page.locator("#welcome-customers li").all_inner_texts()
    rows = page.locator("#jobs-body tr")
    references = await page.locator("#jobs-body tr td:first-child").all_inner_texts()
    assert sorted(customers) == list(GRANTED)
    assert set(references) == VISIBLE_JOBS
    assert await rows.count() == len(VISIBLE_JOBS)
    assert await page.locator("#jobs-table").is_visible()
    await screenshot(page, "accept-2-welcome")
    assert page_errors == []
    status = (await api(INVITATION, {"id": invited["invitation"]["id"]},
                        contractor.admin_token))["node"]
    assert status["status"] == "ACCEPTED"
    assert status["emailStatus"] == "SENT"


async def test_an_expired_link_says_invite_expired_and_a_resent_one_works(
        server, api, contractor, page, page_errors):
    email = "sam.okafor@quayside.example"
    invited = await invite(api, contractor, email)
    old_link = await emailed_link(server, email)
    await server.sql("UPDATE invitations SET expires_at = now() - interval '1 day' "
                     "WHERE email_normalized = $1 AND state = 'PENDING'", email)

    await page.goto(old_link)

    await expect(page.locator("#problem-view")).to_be_visible()
    await expect(page.locator("#problem-title")).to_have_text("Invite expired")
    await expect(page.locator("#problem-advice")).to_contain_text("resend")
    await screenshot(page, "accept-3-expired")

    resent = (await api(RESEND, {"input": {"invitationId": invited["invitation"]["id"]}},
                        contractor.admin_token))["resendInvitation"]
    assert resent["userErrors"] == []
    new_link = await emailed_link(server, email, not_in=frozenset({old_link}))
    assert new_link not in (resent["inviteUrl"], old_link)
    await page.goto(new_link)
    await expect(page.locator("#invitation-view")).to_be_visible()
    await page.goto(old_link)
    await expect(page.locator("#problem-title")).to_have_text("Invitation link not valid")
    assert page_errors == []


async def test_a_weak_password_is_refused_with_the_servers_reason(
        server, api, contractor, page, page_errors):
    email = "lee.morgan@millbrook.example"
    await invite(api, contractor, email)
    link = await emailed_link(server, email)
    await page.goto(link)
    await expect(page.locator("#invitation-view")).to_be_visible()

    # Long enough for the page's own check, so the server is the one that refuses it.
    await page.fill("#password", "abababababab")
    await page.fill("#confirm", "abababababab")
    await page.click("#submit")

    error = page.locator("#password-error")
    await expect(error).to_be_visible()
    await expect(error).to_have_text(
        "Use a password with more variety than repeated characters.")
    await expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#invitation-view")).to_be_visible()
    await screenshot(page, "accept-4-weak-password")
    assert page_errors == []
