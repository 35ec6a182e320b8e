"""GraphiQL for admins, in a real browser, on the demo data: the example tabs run as they
are; after a login every tab is signed with its token and the schema becomes the admin's,
and a token typed into a tab's header editor signs that tab instead."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import expect

from tests.browser.conftest import Server, emailed_link, screenshot
from tests.browser.portal import VISIBLE_JOBS, invite

pytestmark = pytest.mark.slow

RESULT = ".result-window .CodeMirror"
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
VISIBLE_TOOL_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
DEMO_REFERENCES = {f"EGM-{1000 + n}" for n in range(1, 11)}
# GraphiQL's operation menu (the run button, when a tab has several operations) positions
# itself with an inline style, which the page's CSP refuses; the menu still shows and works.
_RADIX_INLINE_STYLE = re.compile(r"^Applying inline style violates .*graphiql\.min\.js\)$")


@pytest.fixture
def mirror(server: Server) -> str:
    if not server.graphiql_mirror:
        pytest.skip("GraphiQL's files are not mirrored here: run `npm ci` in tests/browser")
    return server.graphiql_mirror


async def _editor_text(page: Any, selector: str) -> str:
    return str(await page.locator(selector).first.evaluate("node => node.CodeMirror.getValue()"))


async def _type_into(page: Any, selector: str, text: str) -> None:
    """Replace an editor's text the way a person pasting would."""
    await page.locator(selector).first.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(text)


async def _run(page: Any, operation: str | None = None) -> dict[str, Any]:
    """Press the run button (choosing `operation` when the tab has several); the result."""
    before = await _editor_text(page, RESULT)
    await page.click(".graphiql-execute-button")
    if operation is not None:
        # The operation menu (a Radix dropdown) now and then ignores a click that lands while
        # GraphiQL re-renders; a person clicks again, and so does this.
        item = page.get_by_role("menuitem", name=operation)
        for _ in range(3):
            try:
                await item.click(timeout=5000)
                break
            except PlaywrightTimeout:
                await page.keyboard.press("Escape")
                await page.click(".graphiql-execute-button")
        else:
            await item.click()
    deadline = time.monotonic() + 15
    while (text := await _editor_text(page, RESULT)) in ("", before):
        assert time.monotonic() < deadline, "GraphiQL showed no new result"
        await page.wait_for_timeout(100)
    return json.loads(text)  # type: ignore[no-any-return]


async def _open_tab(page: Any, title: str) -> None:
    await page.locator(".graphiql-tab-button", has_text=title).click()


async def test_after_login_every_tab_runs_signed_in_with_the_admin_schema(
        server, mirror, page, page_errors):
    await page.goto(f"{server.base_url}/graphql")
    await expect(page.locator(".graphiql-container")).to_be_visible()
    assert "mutation Login" in await _editor_text(page, QUERY_EDITOR)

    # 1. Login, as written in the first tab.
    login = await _run(page)
    token = login["data"]["login"]["token"]
    assert login["data"]["login"]["userErrors"] == []
    assert re.fullmatch(r"pgs_\S+", token)
    await screenshot(page, "graphiql-1-login")

    # 2. The jobs tab runs signed in: nothing to paste (once the signed-in schema is loaded).
    await expect(page.locator("#graphiql[data-schema-for='signed-in']")).to_be_attached()
    await _open_tab(page, "<untitled>")
    jobs = await _run(page)
    assert "data" in jobs, jobs
    references = {edge["node"]["reference"] for edge in jobs["data"]["jobs"]["edges"]}
    statuses = {edge["node"]["status"] for edge in jobs["data"]["jobs"]["edges"]}
    assert references == DEMO_REFERENCES
    assert statuses == {"COMPLETED", "IN_PROGRESS", "SCHEDULED", "CANCELLED"}  # admin: all
    assert jobs["data"]["jobs"]["totalCount"] == 10
    await screenshot(page, "graphiql-2-jobs")

    # 3. The invite tab: the login refreshed the schema to the admin's, so the admin-only
    #    mutation is known to the editor (no lint errors) without re-fetching by hand.
    await _open_tab(page, "Customers")
    lint_errors = page.locator(".graphiql-query-editor .CodeMirror-lint-mark-error")
    await expect(lint_errors).to_have_count(0)
    # Put the cursor in the editor, as a person would: GraphiQL then reads this tab's
    # operations (right after a schema swap it may still hold the previous tab's).
    await page.locator(QUERY_EDITOR).first.click()
    # Customers, then Invite with one of their ids in the variables.
    customers = await _run(page, "Customers")
    first = customers["data"]["customers"]["edges"][0]["node"]
    await page.get_by_text("Variables", exact=True).click()
    await _type_into(page, VISIBLE_TOOL_EDITOR, json.dumps({"input": {
        "email": "contact@client.example", "name": "Client Contact",
        "customerIds": [first["id"]]}}, indent=2))
    invited = (await _run(page, "Invite"))["data"]["inviteExternalUser"]
    assert invited["userErrors"] == []
    assert invited["inviteUrl"].startswith(server.portal_url)
    assert invited["invitation"]["status"] == "PENDING"
    assert invited["invitation"]["emailStatus"] in ("QUEUED", "SENT")
    await screenshot(page, "graphiql-3-invite")

    # 4. A tab's own Authorization header signs that tab: here an unknown token, refused (401).
    await _open_tab(page, "<untitled>")
    await page.get_by_text("Headers", exact=True).click()
    await _type_into(page, VISIBLE_TOOL_EDITOR,
                     json.dumps({"Authorization": "Bearer pgs_not-a-session"}, indent=2))
    refused = await _run(page)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # The browser reports the 401 itself; anything else on the console is a fault.
    assert [e for e in page_errors if not _RADIX_INLINE_STYLE.search(e)] == [
        f"Failed to load resource: the server responded with a status of 401 (Unauthorized) "
        f"({server.base_url}/graphql)"]


async def test_after_accepting_graphiql_opens_signed_in_on_the_jobs_tab(
        server, mirror, api, contractor, page, page_errors):
    email = "rhys.evans@quayside.example"
    await invite(api, contractor, email)
    await page.goto(await emailed_link(server, email))
    await page.fill("#password", "heron quarry velvet 7781")
    await page.fill("#confirm", "heron quarry velvet 7781")
    await page.click("#submit")
    await expect(page.locator("#welcome-view")).to_be_visible()

    await page.click("#explore-link")

    await expect(page.locator(".graphiql-container")).to_be_visible()
    await expect(page.locator(".graphiql-tab").first).to_have_class(re.compile("active"))
    assert "jobs(first: 10)" in await _editor_text(page, QUERY_EDITOR)
    jobs = await _run(page)  # signed with the token the accept page kept
    references = {edge["node"]["reference"] for edge in jobs["data"]["jobs"]["edges"]}
    assert references == VISIBLE_JOBS  # completed jobs of their own customers, nothing else
    await screenshot(page, "graphiql-4-external-user")
    assert page_errors == []
