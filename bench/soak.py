"""Soak: thousands of GraphQL requests from dozens of clients against a real server process, then
its health: no errors, no database connections left behind, memory back where it was.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/portal_soak .venv/bin/python bench/soak.py
        starts `portal-graph serve --demo` on that database (it must exist), signs in as the
        demo admin, runs, stops the server; exit status 1 if anything is off.
    .venv/bin/python bench/soak.py --url http://127.0.0.1:8000 --token pgs_... --pid 4242 \
        --database-url postgresql://...   drives a server that is already running.

Bounded in requests and in time (--seconds). The numbers are printed, not judged, except the
three checks above. tests/hardening/test_soak.py runs a small version in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

# name -> query; each answered 200 without errors when things are well.
QUERIES: dict[str, str] = {
    "me": "{ me { email audience organization { name } } }",
    "customers": ("{ customers(first: 10) { totalCount edges { node { name "
                  "jobs(first: 5) { totalCount edges { node { reference status } } } } } } }"),
    "jobs": "{ jobs(first: 20) { edges { node { reference title customer { name } } } } }",
    "captures": "{ mapCaptures(first: 10) { totalCount edges { node { latitude longitude } } } }",
    "anonymous": "{ __typename }",
}
# Refused on purpose, cheaply: part of the mix, since hostile traffic is too.
REFUSED = '{ __type(name: "Job") ' + "{ ofType " * 20 + "{ name }" + " }" * 20 + " }"
MAX_RSS_GROWTH = 40 * 1024 * 1024


@dataclass
class LoadReport:
    requests: int = 0
    errors: int = 0
    refused_as_expected: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    first_error: str | None = None

    def percentile(self, p: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else 0.0
        return statistics.quantiles(self.latencies_ms, n=100)[p - 1]

    def line(self) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        return (f"{self.requests} requests in {self.seconds:.1f} s ({rate:.0f}/s), "
                f"{self.errors} errors, statuses {dict(self.statuses)}, "
                f"p50 {self.percentile(50):.1f} ms, p95 {self.percentile(95):.1f} ms, "
                f"p99 {self.percentile(99):.1f} ms")


async def run_load(url: str, token: str, *, requests: int, concurrency: int,
                   seconds: float = 120) -> LoadReport:
    """`requests` requests shared by `concurrency` clients (one connection each), or fewer if
    `seconds` run out; every sixth request is a query the limits refuse."""
    report = LoadReport()
    names = list(QUERIES)
    issued = 0
    deadline = time.monotonic() + seconds
    started = time.monotonic()

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < requests and time.monotonic() < deadline:
            n = issued
            issued += 1
            refused = n % 6 == 5
            query = REFUSED if refused else QUERIES[names[n % len(names)]]
            sent = time.perf_counter()
            try:
                response = await http.post("/graphql", json={"query": query},
                                           headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as error:
                report.errors += 1
                report.first_error = report.first_error or repr(error)
                continue
            report.latencies_ms.append((time.perf_counter() - sent) * 1000)
            report.requests += 1
            report.statuses[response.status_code] += 1
            body = response.json()
            codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
            if refused and codes == ["QUERY_TOO_DEEP"]:
                report.refused_as_expected += 1
            elif response.status_code != 200 or codes:
                report.errors += 1
                report.first_error = report.first_error or response.text[:300]

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    report.seconds = time.monotonic() - started
    return report


@dataclass(frozen=True)
class ServerState:
    rss_bytes: int
    connections: int  # to the database, from any client
    busy: int  # of those: active or idle in a transaction (should be 0 when quiet)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def server_state(pid: int, database_url: str) -> ServerState:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS connections, count(*) FILTER (WHERE state IN "
            "('active', 'idle in transaction', 'idle in transaction (aborted)')) AS busy "
            "FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
    finally:
        await conn.close()
    assert row is not None
    return ServerState(rss_bytes(pid), int(row["connections"]), int(row["busy"]))


@dataclass
class SoakReport:
    load: LoadReport
    before: ServerState
    after: ServerState

    @property
    def rss_growth(self) -> int:
        return self.after.rss_bytes - self.before.rss_bytes

    def problems(self, max_rss_growth: int = MAX_RSS_GROWTH) -> list[str]:
        found = []
        if self.load.errors:
            found.append(f"{self.load.errors} errors, first: {self.load.first_error}")
        if self.after.busy:
            found.append(f"{self.after.busy} connections still busy after the load")
        # Slack of two: a pool may still open a connection or two it had not needed yet.
        if self.after.connections > self.before.connections + 2:
            found.append(f"connections grew {self.before.connections} -> "
                         f"{self.after.connections}")
        if self.rss_growth > max_rss_growth:
            found.append(f"memory grew {self.rss_growth / 2**20:.1f} MB")
        return found

    def lines(self) -> list[str]:
        return [self.load.line(),
                f"refused as expected: {self.load.refused_as_expected}",
                f"server RSS {self.before.rss_bytes / 2**20:.1f} -> "
                f"{self.after.rss_bytes / 2**20:.1f} MB ({self.rss_growth / 2**20:+.1f} MB)",
                f"database connections {self.before.connections} -> {self.after.connections}"
                f" (busy after: {self.after.busy})"]


async def soak(url: str, token: str, pid: int, database_url: str, *, requests: int,
               concurrency: int, warmup: int | None = None, seconds: float = 120) -> SoakReport:
    """Warm up at full concurrency (the pool and caches reach their working size), measure,
    load, let the server settle, measure again."""
    await run_load(url, token, requests=warmup or max(200, requests // 10),
                   concurrency=concurrency, seconds=seconds)
    await asyncio.sleep(0.5)
    before = await server_state(pid, database_url)
    load = await run_load(url, token, requests=requests, concurrency=concurrency,
                          seconds=seconds)
    await asyncio.sleep(1.0)
    return SoakReport(load, before, await server_state(pid, database_url))


# --- the command -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _demo_login(url: str) -> str:
    from portal_graph import demo

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await http.post("/graphql", json={
            "query": "mutation($e: String!, $p: String!) { login(input: {email: $e, "
                     "password: $p}) { token userErrors { message } } }",
            "variables": {"e": demo.ADMIN_EMAIL, "p": demo.ADMIN_PASSWORD}})
    token = response.json()["data"]["login"]["token"]
    if not token:
        raise SystemExit(f"demo login failed: {response.text}")
    return str(token)


def _start_server(database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [str(Path(sys.executable).with_name("portal-graph")), "serve", "--demo",
               "--port", str(port)]
    env = {**os.environ, "DATABASE_URL": database_url, "RUN_OUTBOX_WORKER": "false",
           "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise SystemExit("server did not start in 60 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=120, help="cap per phase")
    parser.add_argument("--url", help="a running server (else one is started)")
    parser.add_argument("--token", help="bearer token for --url")
    parser.add_argument("--pid", type=int, help="process id of the --url server (for RSS)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("set DATABASE_URL or --database-url")
    process = None
    if args.url:
        if not (args.token and args.pid):
            parser.error("--url needs --token and --pid")
        url, token, pid = args.url, args.token, args.pid
    else:
        process, url = _start_server(args.database_url)
        token, pid = asyncio.run(_demo_login(url)), process.pid
    try:
        report: Any = asyncio.run(soak(url, token, pid, args.database_url,
                                       requests=args.requests, concurrency=args.concurrency,
                                       seconds=args.seconds))
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
    print("\n".join(report.lines()))
    problems = report.problems()
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
