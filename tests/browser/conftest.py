"""A real server in a subprocess, a real SMTP server it sends to, and headless Chromium driven
by Playwright.

Nothing is downloaded at test time: Chromium is Debian's (/usr/bin/chromium, or
CHROMIUM_PATH) and Playwright's Python package only drives it. GraphiQL's files come from
`npm ci` in this folder, served as a local GRAPHIQL_CDN_URL.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import functools
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.browser.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.browser.portal import ORGANIZATION, Contractor, build_contractor
from tests.conftest import _admin, _database_url
from tests.mail.mail_support import SmtpServer

HERE = Path(__file__).parent
ARTIFACTS = HERE.parent.parent / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# What works on a locked-down machine: no sandbox as root, no GPU, no calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
MIRRORED = {"graphiql@3": "graphiql", "react@18": "react", "react-dom@18": "react-dom"}
START_TIMEOUT = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- GraphiQL's files, mirrored locally --------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def graphiql_mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """A URL laid out like unpkg (`/graphiql@3/...`), or None when `npm ci` has not run."""
    modules = HERE / "node_modules"
    if not all((modules / package / "package.json").exists() for package in MIRRORED.values()):
        yield None
        return
    root = tmp_path_factory.mktemp("cdn")
    for versioned, package in MIRRORED.items():
        (root / versioned).symlink_to(modules / package, target_is_directory=True)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- the server --------------------------------------------------------------------------------


@dataclass
class Server:
    base_url: str
    database_url: str
    mailbox: SmtpServer
    log_path: Path
    env: dict[str, str]
    graphiql_mirror: str | None

    @property
    def portal_url(self) -> str:
        return f"{self.base_url}/accept/"

    @property
    def reset_url(self) -> str:
        return f"{self.base_url}/reset/"

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def sql(self, statement: str, *args: Any) -> str:
        conn = await asyncpg.connect(self.database_url)
        try:
            return str(await conn.execute(statement, *args))
        finally:
            await conn.close()

    def cli(self, *args: str) -> str:
        result = subprocess.run([*_portal_graph(), *args], env=self.env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


def _portal_graph() -> list[str]:
    script = Path(sys.executable).with_name("portal-graph")
    return [str(script)] if script.exists() else [sys.executable, "-m", "portal_graph.cli"]


@pytest.fixture(scope="session")
def mailbox() -> Iterator[SmtpServer]:
    """The SMTP server (aiosmtpd, in this process) the served API sends its email to."""
    smtp = SmtpServer()
    smtp.start()
    try:
        yield smtp
    finally:
        smtp.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, graphiql_mirror: str | None,
           mailbox: SmtpServer) -> Iterator[Server]:
    """`portal-graph serve --demo` on a free port, its own database, mail over SMTP."""
    name = f"portal_graph_browser_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    port = _free_port()
    work = tmp_path_factory.mktemp("server")
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items()
           if k not in ("SMTP_URL", "PROMETHEUS_MULTIPROC_DIR", "OTEL_EXPORTER_OTLP_ENDPOINT")},
        "DATABASE_URL": _database_url(name),
        "DATA_DIR": str(work / "data"),
        "SMTP_URL": mailbox.url,
        "PORTAL_URL": f"{base_url}/accept/",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "OUTBOX_POLL_SECONDS": "0.2",
        "LOG_FORMAT": "json",
    }
    if graphiql_mirror:
        env["GRAPHIQL_CDN_URL"] = graphiql_mirror
    log_path = work / "server.log"
    server = Server(base_url, _database_url(name), mailbox, log_path, env, graphiql_mirror)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*_portal_graph(), "serve", "--port", str(port), "--demo"], env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_ready(server, process)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _wait_until_ready(server: Server, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"the server was not ready within {START_TIMEOUT:.0f}s:\n{server.log_tail()}")


# --- talking to it -----------------------------------------------------------------------------


@pytest.fixture
async def api(server: Server) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        yield Api(client)


@pytest.fixture(scope="session")
def organization_id(server: Server) -> str:
    """The contractor's organization and its first admin, made the documented way (the CLI)."""
    return server.cli("create-organization", "--name", ORGANIZATION, "--admin-email",
                      ADMIN_EMAIL, "--admin-password", ADMIN_PASSWORD)


@pytest.fixture(scope="session")
async def contractor(server: Server, organization_id: str) -> Contractor:
    """Its customers and jobs, entered through the API by that admin."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        return await build_contractor(Api(client))


def _plain_text(message: email.message.EmailMessage) -> tuple[str, str]:
    body = message.get_body(preferencelist=("plain",))
    return str(message["To"]), body.get_content() if body is not None else ""


async def emailed_link(server: Server, to: str, *, not_in: frozenset[str] = frozenset(),
                       within: float = 20.0, base: str | None = None) -> str:
    """The link (an invite link, or one starting with `base`) in the newest email the SMTP
    server received for `to` (the server's outbox worker sends it)."""
    deadline = time.monotonic() + within
    pattern = re.compile(re.escape(base or server.portal_url) + r"[^\s<>\"]+")
    while time.monotonic() < deadline:
        for message in reversed(list(server.mailbox.messages)):
            recipient, text = _plain_text(message)
            found = pattern.search(text)
            if to in recipient and found and found.group(0) not in not_in:
                return found.group(0)
        await asyncio.sleep(0.2)
    pytest.fail(f"no email with a link reached {to} within {within:.0f}s:\n"
                f"{server.log_tail()}")


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium; the browser tests skip, saying why, only when it is missing."""
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which(CHROMIUM)
    if not path:
        pytest.skip(f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium "
                    "(or set CHROMIUM_PATH)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed: pip install -e '.[test]'")
    return path


@pytest.fixture(autouse=True)
def _chromium_first(chromium: str) -> None:
    """Skip before starting a server when there is no browser to point at it."""


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        # A fresh, temporary profile per launch; headless; Debian's binary, no download.
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True,
                                                   args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught exceptions and console errors of the page (a CSP violation is one)."""
    return []


@pytest.fixture
async def page(browser: Any, page_errors: list[str],
               request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1100, "height": 900},
                                        locale="en-GB", timezone_id="Europe/London")
    page = await context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on("console", lambda message: _console_error(page_errors, message))
    try:
        yield page
    finally:
        failed = request.node.stash.get(_FAILED, False)
        if failed:
            await screenshot(page, f"{request.node.name}-failure")
        await context.close()


def _console_error(errors: list[str], message: Any) -> None:
    url = str((message.location or {}).get("url", ""))
    # The browser asks every site for an icon; this server has none.
    if message.type == "error" and not url.endswith("/favicon.ico"):
        errors.append(f"{message.text} ({url})")


async def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report
