"""Faults injected under the documented deployment: its database restarts, its SMTP server
goes away.

The deployment is `portal-graph serve --workers 2` plus a second `serve` instance, all on one
database and each process running its outbox worker. The database is a private PostgreSQL
cluster started for this module (the machine's shared server is never touched); the SMTP server
is a real aiosmtpd on 127.0.0.1. What must hold: requests fail cleanly while the database is
away (a masked 503, never a hang or a 500 with internals), the servers recover by themselves,
and no invitation or email is lost or sent twice, whichever process sends it.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from portal_graph.auth.tokens import token_digest
from portal_graph.config import Settings
from portal_graph.db.engine import asyncpg_url
from portal_graph.graphql.core.relay import to_global_id
from tests.factories import Factory
from tests.hardening.processes import PrivatePostgres, ServerProcess, start_server
from tests.mail.mail_support import CollectingHandler, SmtpServer
from tests.topology import POOLED_PASS, PgBouncer

pytestmark = [pytest.mark.slow, pytest.mark.pooled]

INVITE = """
mutation($email: String!, $customers: [ID!]!) {
  inviteExternalUser(input: {email: $email, customerIds: $customers}) {
    invitation { id }
    inviteUrl
    userErrors { code message }
  }
}"""
READ = "{ me { email } jobs(first: 5) { totalCount } }"
LINK = re.compile(r"https?://\S+/accept/\S+")
INTERNALS = ("Traceback", "asyncpg", "sqlalchemy", "psycopg", "SELECT", "connection")


class SlowCollectingHandler(CollectingHandler):
    """Takes `delay` seconds per message, so a batch of emails is still being sent when the
    test pulls the database away."""

    delay = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Stack:
    pg: PrivatePostgres
    smtp: SmtpServer
    servers: list[ServerProcess]  # the first one answers the test's requests
    engine: AsyncEngine
    make: Factory
    organization_id: uuid.UUID
    admin_token: str
    customer_id: str

    @property
    def server(self) -> ServerProcess:
        return self.servers[0]

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(server.log()[-tail:] for server in self.servers)

    def log_marks(self) -> list[int]:
        return [len(server.log()) for server in self.servers]

    def logs_since(self, marks: list[int]) -> list[str]:
        """Each server's log lines written since `marks` (from log_marks)."""
        return [server.log()[mark:] for server, mark in zip(self.servers, marks, strict=True)]

    @property
    def handler(self) -> SlowCollectingHandler:
        return self.smtp.handler  # type: ignore[return-value]

    async def restart_database(self, down_seconds: float) -> None:
        await asyncio.to_thread(self.pg.stop)
        await asyncio.sleep(down_seconds)
        await asyncio.to_thread(self.pg.start)

    async def post(self, http: httpx.AsyncClient, query: str,
                   variables: dict[str, Any] | None = None) -> httpx.Response:
        return await http.post(f"{self.server.url}/graphql",
                               json={"query": query, "variables": variables or {}},
                               headers={"Authorization": f"Bearer {self.admin_token}"})

    async def scalar(self, sql: str) -> Any:
        async with self.engine.connect() as conn:
            return await conn.scalar(text(sql))

    async def execute(self, sql: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(sql))

    async def rows(self, sql: str) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql))).scalars())

    async def queued(self) -> int:
        return int(await self.scalar("SELECT count(*) FROM email_outbox WHERE status = 'QUEUED'"))

    async def wait_for_outbox_drained(self) -> None:
        async def drained() -> bool:
            return await self.queued() == 0

        if not await eventually(drained, within=40):
            raise AssertionError("the outbox did not drain:\n" + self.logs())


async def eventually(condition: Callable[[], Awaitable[bool]], *, within: float,
                     step: float = 0.05) -> bool:
    """Polls state held elsewhere (a database, another thread) until it holds, or gives up."""
    for _ in range(max(1, int(within / step))):
        if await condition():
            return True
        await asyncio.sleep(step)
    return await condition()


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres.create()
    try:
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.handler = SlowCollectingHandler()
    server.start()
    try:
        yield server
    finally:
        server.stop()


SERVER_ENV = {
    "RUN_OUTBOX_WORKER": "true", "OUTBOX_POLL_SECONDS": "0.2", "OUTBOX_BACKOFF_SECONDS": "0.2",
    "OUTBOX_MAX_ATTEMPTS": "50", "REQUEST_TIMEOUT_SECONDS": "5", "SHUTDOWN_GRACE_SECONDS": "10",
    "RATE_LIMIT_INVITES_PER_ORGANIZATION": "10000/3600",
}


@pytest.fixture(scope="module")
async def stack(private_pg: PrivatePostgres, smtp: SmtpServer, settings: Settings,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    url = private_pg.url()
    folder = tmp_path_factory.mktemp("faults")
    # In the pooled pass the servers reach the cluster through PgBouncer (transaction mode),
    # which stays up while the cluster restarts behind it.
    bouncer = PgBouncer.start("127.0.0.1", private_pg.port, ["postgres"]) if POOLED_PASS \
        else None
    env = {**SERVER_ENV, "SMTP_URL": smtp.url}
    if bouncer is not None:
        env.update(DB_PGBOUNCER="true", DATABASE_DIRECT_URL=url)
    served = bouncer.url(url) if bouncer is not None else url
    # The documented deployment: two worker processes, and a second instance beside them.
    # The first starts alone, so that one process runs the migration.
    servers = [start_server(folder, served, secret_key=settings.secret_key or "", workers=2,
                            **env)]
    # The servers connect as the cluster's superuser, so their requests switch to the request
    # role (db/tenancy.py); the test itself reads and writes as the superuser.
    engine = create_async_engine(asyncpg_url(url), pool_pre_ping=True)
    make = Factory(async_sessionmaker(engine, expire_on_commit=False))
    try:  # from here on, a failing set-up must not leave a server running
        servers.append(start_server(folder, served, secret_key=settings.secret_key or "",
                                    **env))
        org = await make.organization(name="Faulty Grounds")
        admin = await make.staff(org)
        customer = await make.customer(org)
        await make.job(org, customer)
        yield Stack(private_pg, smtp, servers, engine, make, org,
                    await make.session_token(org, admin["person"]["id"]),
                    to_global_id("Customer", customer))
    finally:
        for server in servers:
            server.process.send_signal(signal.SIGTERM)  # all at once: each drains meanwhile
        codes = [server.terminate() for server in servers]
        await engine.dispose()
        if bouncer is not None:
            bouncer.stop()
        assert codes == [0] * len(servers), "\n".join(server.log()[-3000:] for server in servers)


@dataclass
class Outcome:
    started: float
    seconds: float
    status: int
    body: str


def is_clean_failure(outcome: Outcome) -> bool:
    """A refusal a client can act on: a coded, masked error; no internals, no bare 500."""
    if any(word in outcome.body for word in INTERNALS):
        return False
    if outcome.status in (503, 504):
        return '"SERVICE_UNAVAILABLE"' in outcome.body or '"TIMEOUT"' in outcome.body
    return outcome.status == 200 and '"INTERNAL_SERVER_ERROR"' in outcome.body


def received(smtp: SmtpServer) -> list[EmailMessage]:
    return list(smtp.messages)


def links_in(messages: list[EmailMessage]) -> Counter[str]:
    found: Counter[str] = Counter()
    for message in messages:
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        found.update(LINK.findall(body.get_content()))
    return found


def digests(links: Counter[str]) -> Counter[bytes]:
    """The received links by their token's digest, which is what the database keeps."""
    return Counter({token_digest(url.rsplit("/", 1)[1]): n for url, n in links.items()})


async def emailed_links_now(stack: Stack, email_like: str) -> set[bytes]:
    """The digests of the links the pending invitations' emails must carry. An email carries
    its own link, not the `inviteUrl` the admin was shown (docs/RULES.md)."""
    async with stack.engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT emailed_token_hash FROM invitations WHERE email LIKE :pattern "
            "AND state = 'PENDING'"), {"pattern": email_like})
        return {bytes(row[0]) for row in rows}


# --- the database restarts under load --------------------------------------------------------


async def test_requests_fail_cleanly_while_the_database_restarts_and_then_recover(
    stack: Stack,
) -> None:
    outcomes: list[Outcome] = []
    stop = asyncio.Event()
    origin = time.monotonic()
    marks = stack.log_marks()

    async def client(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            started = time.monotonic()
            response = await stack.post(http, READ)
            outcomes.append(Outcome(started - origin, time.monotonic() - started,
                                    response.status_code, response.text))

    async with httpx.AsyncClient(timeout=15) as http:
        clients = [asyncio.create_task(client(http)) for _ in range(6)]
        await asyncio.sleep(0.6)
        down_at = time.monotonic() - origin
        await stack.restart_database(down_seconds=1.0)
        up_at = time.monotonic() - origin
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*clients)

    ok = [o for o in outcomes if o.status == 200 and '"errors"' not in o.body]
    failed = [o for o in outcomes if o not in ok]
    settled = [o for o in outcomes if o.started > up_at + 0.5]
    print(f"\n{len(outcomes)} requests: {len(ok)} ok, {len(failed)} refused "
          f"({Counter(o.status for o in failed)}); database down {down_at:.1f}-{up_at:.1f} s; "
          f"slowest {max(o.seconds for o in outcomes):.2f} s")
    assert failed, "the restart should have refused some requests"
    assert [o.body for o in failed if not is_clean_failure(o)] == []
    assert max(o.seconds for o in outcomes) < 6  # the request deadline (5 s) holds: no hang
    assert settled and all(o in ok for o in settled)  # recovered, without a server restart
    assert (await httpx.AsyncClient().get(f"{stack.server.url}/readyz")).status_code == 200
    # An outage ridden out: one warning line per refused request, no error, no traceback.
    logs = stack.logs_since(marks)
    assert logs[0].count("answered 503") == len(failed)
    assert [line for log in logs for line in log.splitlines()
            if " ERROR " in line or "Traceback" in line] == []


# --- invitations and their emails -----------------------------------------------------------


async def invite_many(stack: Stack, http: httpx.AsyncClient, emails: list[str],
                      concurrency: int = 4) -> dict[str, httpx.Response]:
    answers: dict[str, httpx.Response] = {}
    queue = list(emails)

    async def worker() -> None:
        while queue:
            address = queue.pop(0)
            answers[address] = await stack.post(http, INVITE, {
                "email": address, "customers": [stack.customer_id]})

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answers


async def wait_ready(stack: Stack, http: httpx.AsyncClient) -> None:
    async def ready() -> bool:
        return (await http.get(f"{stack.server.url}/readyz")).status_code == 200

    assert await eventually(ready, within=10), "the server did not become ready again"


def invite_url(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return None
    payload = response.json().get("data") or {}
    invited = payload.get("inviteExternalUser") or {}
    return invited.get("inviteUrl")  # type: ignore[no-any-return]


async def test_invites_during_a_database_restart_are_all_or_nothing_and_mailed_once(
    stack: Stack,
) -> None:
    stack.handler.delay = 0.05
    before = len(received(stack.smtp))
    emails = [f"restart-{i}@example.com" for i in range(16)]

    async with httpx.AsyncClient(timeout=15) as http:
        inviting = asyncio.create_task(invite_many(stack, http, emails))
        await asyncio.sleep(0.3)
        await stack.restart_database(down_seconds=0.8)
        answers = await inviting
        retry = [e for e, r in answers.items() if invite_url(r) is None]
        # What a client would do: wait until the service says it is ready, then retry. (Through
        # PgBouncer that can be a moment after the database is back: the bouncer refuses at
        # once for `server_login_retry` after a failed server login.)
        await wait_ready(stack, http)
        answers.update(await invite_many(stack, http, retry))
    await stack.wait_for_outbox_drained()

    urls = {e: invite_url(r) for e, r in answers.items()}
    stored = await stack.scalar("SELECT count(*) FROM invitations WHERE email LIKE 'restart-%'")
    links = links_in(received(stack.smtp)[before:])
    print(f"\n{len(retry)} of {len(emails)} invites refused during the restart, then retried; "
          f"{sum(links.values())} emails for {stored} invitations")
    assert all(urls.values()), {e: r.text for e, r in answers.items() if not urls[e]}
    assert stored == len(emails)  # a refused invite left nothing behind, or it merged
    # Every invitation's current link arrived exactly once; no link arrived twice.
    live, arrived = await emailed_links_now(stack, "restart-%"), digests(links)
    assert len(live) == len(emails)
    assert {link: arrived[link] for link in live} == {link: 1 for link in live}
    assert max(links.values()) == 1


ROUNDS = 4
PER_ROUND = 20


def message_ids(messages: list[EmailMessage], to_prefix: str) -> Counter[str]:
    """How many copies of each message (by Message-ID) went to addresses with this prefix."""
    return Counter(str(m["Message-ID"]) for m in messages if str(m["To"]).startswith(to_prefix))


async def send_through_a_database_restart(stack: Stack, prefix: str, count: int) -> Counter[str]:
    """`count` invitations queue while SMTP is down; SMTP comes back taking 0.1 s a message,
    and PostgreSQL restarts once the first few have arrived. Returns the copies per Message-ID."""
    stack.smtp.stop()
    async with httpx.AsyncClient(timeout=15) as http:
        answers = await invite_many(stack, http,
                                    [f"{prefix}-{i}@example.com" for i in range(count)])
    assert all(invite_url(r) for r in answers.values()), [r.text for r in answers.values()]
    stack.handler.delay = 0.1
    stack.smtp.start()
    await stack.execute("UPDATE email_outbox SET next_attempt_at = now() "  # skip the backoff
                        "WHERE status = 'QUEUED'")

    async def sending() -> bool:
        return sum(message_ids(received(stack.smtp), prefix).values()) >= 3

    assert await eventually(sending, within=20, step=0.02), stack.logs()
    await stack.restart_database(down_seconds=0.8)  # mid-batch, every process sending
    await stack.wait_for_outbox_drained()
    await asyncio.sleep(0.5)  # a copy still on its way would arrive now
    return message_ids(received(stack.smtp), prefix)


async def test_emails_being_sent_when_the_database_restarts_are_sent_exactly_once(
    stack: Stack,
) -> None:
    marks = stack.log_marks()
    rounds = [await send_through_a_database_restart(stack, f"round{n}", PER_ROUND)
              for n in range(ROUNDS)]

    outbox_ids = {str(i) for i in (await stack.rows(
        "SELECT id FROM email_outbox WHERE to_address LIKE 'round%'"))}
    print(f"\n{PER_ROUND} invitations a round, {len(stack.servers)} instances (one with 2 "
          "workers); messages received per round: "
          + ", ".join(f"{sum(r.values())} ({len(r)} distinct)" for r in rounds))
    assert [sum(r.values()) for r in rounds] == [PER_ROUND] * ROUNDS
    assert {mid.strip("<>").partition("@")[0] for r in rounds for mid in r} == outbox_ids
    assert all(set(r.values()) == {1} for r in rounds)
    # The workers rode the restarts out: warnings, no error, no traceback, no lease lost.
    assert [line for log in stack.logs_since(marks) for line in log.splitlines()
            if " ERROR " in line or "Traceback" in line or "lease lost" in line] == []


async def test_emails_queued_while_smtp_is_down_are_each_delivered_once_when_it_returns(
    stack: Stack,
) -> None:
    stack.handler.delay = 0.0
    stack.smtp.stop()
    async with httpx.AsyncClient(timeout=15) as http:
        answers = await invite_many(stack, http, [f"smtp-{i}@example.com" for i in range(8)])
        urls = [invite_url(r) for r in answers.values()]
        async def each_failed_once() -> bool:
            return int(await stack.scalar(
                "SELECT count(*) FROM email_outbox WHERE to_address LIKE 'smtp-%' "
                "AND attempts = 0")) == 0

        assert await eventually(each_failed_once, within=10)
        failed_once = await stack.scalar(
            "SELECT count(*) FROM email_outbox WHERE to_address LIKE 'smtp-%' "
            "AND status = 'QUEUED' AND attempts >= 1 AND last_error IS NOT NULL")
        before = len(received(stack.smtp))
        stack.smtp.start()
        await stack.wait_for_outbox_drained()
        statuses = await stack.post(http, "{ invitations(first: 100) { edges { node "
                                          "{ email emailStatus } } } }")

    links = links_in(received(stack.smtp)[before:])
    assert failed_once == 8
    live, arrived = await emailed_links_now(stack, "smtp-%"), digests(links)
    assert all(urls) and len(live) == len(urls)
    assert {link: arrived[link] for link in live} == {link: 1 for link in live}
    mine = [e["node"] for e in statuses.json()["data"]["invitations"]["edges"]
            if e["node"]["email"].startswith("smtp-")]
    assert [n["emailStatus"] for n in mine] == ["SENT"] * 8
