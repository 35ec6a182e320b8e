"""In Chromium: docs/examples/live-invitations.html follows invitations over the WebSocket and
sees an invitation's email go from QUEUED to SENT (the SMTP server is down when the invitation
is made, so the QUEUED state lasts until it comes back); GraphiQL runs the same subscription."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.conftest import Server
from tests.browser.portal import invite
from tests.browser.test_graphiql import _RADIX_INLINE_STYLE

pytestmark = pytest.mark.slow

PAGE = Path(__file__).parents[2] / "docs" / "examples" / "live-invitations.html"


async def test_the_example_page_sees_the_email_go_from_queued_to_sent(
        server: Server, contractor, api, page, page_errors):
    await page.goto(PAGE.as_uri())
    await page.fill("#api", f"{server.base_url}/graphql")
    await page.fill("#token", contractor.admin_token)
    await page.click("button[type=submit]")
    await expect(page.locator("#state")).to_have_text("Following.")
    await page.wait_for_timeout(500)  # the subscription starts listening
    email = f"live-{int(time.time() * 1000)}@council.example"
    server.mailbox.stop()
    try:
        await invite(api, contractor, email)
        lines = page.locator("#changes li", has_text=email)
        await expect(lines.first).to_have_text(f"{email} PENDING QUEUED", timeout=10_000)
    finally:
        server.mailbox.start()
    await expect(lines.last).to_have_text(f"{email} PENDING SENT", timeout=30_000)
    texts = await lines.all_text_contents()
    assert texts.index(f"{email} PENDING QUEUED") < texts.index(f"{email} PENDING SENT")
    assert page_errors == []


async def test_graphiql_runs_a_subscription_over_the_websocket(
        server: Server, contractor, api, page, page_errors):
    if not server.graphiql_mirror:
        pytest.skip("GraphiQL's files are not mirrored here: run `npm ci` in tests/browser")
    await page.goto(f"{server.base_url}/graphql")
    await expect(page.locator(".graphiql-container")).to_be_visible()
    await page.evaluate("token => window.sessionStorage.setItem('portal_graph_token', token)",
                        contractor.admin_token)
    await page.reload()
    await expect(page.locator(".graphiql-container")).to_be_visible()
    await page.wait_for_load_state("networkidle")  # GraphiQL has the admin's schema
    await page.locator(".graphiql-tab-button", has_text="Invitations").click()
    await page.click(".graphiql-execute-button")  # the tab's one operation: no menu
    await page.wait_for_timeout(1500)  # subscribed
    email = f"graphiql-{int(time.time() * 1000)}@council.example"
    await invite(api, contractor, email)
    result = page.locator(".result-window .CodeMirror").first
    deadline = time.monotonic() + 20
    while True:
        text = str(await result.evaluate("node => node.CodeMirror.getValue()"))
        if email in text:
            break
        assert time.monotonic() < deadline, f"GraphiQL showed no event: {text!r}"
        await page.wait_for_timeout(200)
    assert json.loads(text)["data"]["invitationUpdated"]["email"] == email
    assert [e for e in page_errors if not _RADIX_INLINE_STYLE.search(e)] == []
