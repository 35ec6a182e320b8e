"""The benchmark, in one command: `.venv/bin/python bench/run.py [--quick]`.

1. Ensures the scale data (`portal-graph seed-scale`) in a database of its own
   (`portal_graph_bench` on 127.0.0.1:5432, or --database-url), and session tokens.
2. Counts SQL statements per request in process (the real app over ASGI), and the
   tracemalloc peak of one 500-job portal request (the app's and the floor's, in process).
3. Serves the floor (bench/floor.py) and drives it at 1 and 32 clients.
4. Serves `portal-graph serve --workers 1`, drives it at 1 and 32 clients; then `--workers 2`
   at 32 clients. Each measurement also reads the CPU the server used per iteration from
   /proc: its own processes (Python) and the PostgreSQL backends of its connections
   (bench/cpu.py).
5. Prints the table and writes bench/results/<timestamp>.json, latest.json and latest.md.

A workload whose GraphQL fields are not in the schema yet runs on the floor only and shows "n/a"
on the GraphQL side; it is picked up as soon as the fields exist. Numbers, never assertions:
the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import orjson  # noqa: E402

from bench.cpu import CpuProbe  # noqa: E402
from bench.load import Measured, drive, http_session, sender  # noqa: E402
from bench.report import machine_facts, memory_lines, table  # noqa: E402
from bench.statements import count_statements, memory_peaks  # noqa: E402
from bench.workloads import (  # noqa: E402
    WORKLOADS,
    BenchData,
    Workload,
    available,
    bench_environment,
    schema_root_fields,
)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/portal_graph_bench"
RESULTS = ROOT / "bench" / "results"
CLIENTS = 32
TOKENS = CLIENTS


def _log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)


# --- data ------------------------------------------------------------------------------------


async def ensure_database(url: str) -> None:
    base, _, name = url.rpartition("/")
    name = name.split("?")[0]
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def prepare_data(url: str, quick: bool) -> tuple[BenchData, dict[str, Any]]:
    from portal_graph.db.migrate import upgrade
    from portal_graph.graphql.core.relay import to_global_id
    from portal_graph.scale import QUICK, Sizes, mint_session, seed_scale

    await ensure_database(url)
    await asyncio.to_thread(upgrade, url)
    sizes = QUICK if quick else Sizes()
    started = time.perf_counter()
    org = await seed_scale(url, sizes)
    seeded = time.perf_counter() - started
    _log(f"scale data {'created' if org.created else 'present'} in {seeded:.1f} s: "
         f"{sizes.organization_name}")
    _log(f"logins: admin {org.admin_email} / {org.admin_password}; "
         f"external {org.client_email} / {org.client_password}")
    conn = await asyncpg.connect(url)
    try:
        job_ids = [row[0] for row in await conn.fetch(
            "SELECT id FROM jobs WHERE organization_id = $1 ORDER BY random() LIMIT 1000",
            org.organization_id)]
        tail = [row[0] for row in await conn.fetch(
            """SELECT c.id FROM customers c WHERE c.organization_id = $1 AND c.id <> ALL($2)
               ORDER BY c.id LIMIT 20""", org.organization_id, org.client_customer_ids)]
    finally:
        await conn.close()
    # One person per client: a person's concurrent sessions contend on their membership row
    # when they record activity (see bench/RESULTS.md).
    client_tokens = [await mint_session(url, org.organization_id, email)
                     for email in org.client_emails[:TOKENS]]
    admin_tokens = [await mint_session(url, org.organization_id, org.admin_email)
                    for _ in range(TOKENS)]
    random.Random(7).shuffle(job_ids)
    data = BenchData(
        database_url=url, organization_id=str(org.organization_id),
        client_tokens=client_tokens, admin_tokens=admin_tokens,
        node_ids=[to_global_id("Job", job_id) for job_id in job_ids],
        customer_ids=[to_global_id("Customer", c) for c in tail or org.client_customer_ids],
        search=org.search_fragment, graphql_fields=schema_root_fields())
    facts = {"sizes": asdict(sizes), "organization": sizes.organization_name,
             "seed_seconds": round(seeded, 1), "seeded_now": org.created}
    return data, facts


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclasses.dataclass(frozen=True)
class Served:
    base: str  # http://127.0.0.1:port
    pgid: int  # its process group (the server and its workers)


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str], port: int) -> Iterator[Served]:
    """Start a server in a process group of its own; stop exactly that group afterwards."""
    log = open(RESULTS / f"server-{port}.log", "wb")
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process)
        yield Served(base, process.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: see bench/results/")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{base} did not become healthy")


def graphql_command(port: int, workers: int) -> list[str]:
    return [str(ROOT / ".venv" / "bin" / "portal-graph"), "serve", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers)]


def floor_command(port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "bench.floor:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log",
            "--log-level", "warning"]


# --- plan ------------------------------------------------------------------------------------


def budget(workload: Workload, clients: int, quick: bool) -> tuple[int, float]:
    """(iterations, time cap in seconds) for one measurement."""
    if quick:
        iterations = 20 if clients == 1 else 100
        cap = 4.0
    else:
        iterations = 300 if clients == 1 else 1500
        cap = 25.0
    if workload.key == "portal_500" or workload.slow:
        iterations //= 3
    return iterations, cap


async def measure(servers: dict[str, Served], workloads: list[Workload], graphql: set[str],
                  data: BenchData, quick: bool, client_counts: tuple[int, ...],
                  results: dict[str, dict[str, Any]]) -> None:
    """Per workload and client count, the servers back to back (all of them up, idle but for
    the one being driven), so that they meet the same machine load."""
    postgres_port = urlsplit(data.database_url).port or 5432
    probes = {label: CpuProbe(served.pgid, data.database_url, postgres_port)
              for label, served in servers.items()}
    try:
        for workload in workloads:
            for clients in client_counts:
                for label, served in servers.items():
                    if not label.startswith("floor") and workload.key not in graphql:
                        continue
                    iteration = (workload.floor if label.startswith("floor")
                                 else workload.graphql)
                    iterations, cap = budget(workload, clients, quick)
                    measured: Measured = await drive(
                        served.base, iteration, data, clients=clients, iterations=iterations,
                        time_cap=cap, warmup=min(clients, 8) * 2, probe=probes[label])
                    summary = measured.summary()
                    results.setdefault(workload.key, {})[f"{label}@{clients}"] = summary
                    _log(f"{label:>5} {workload.key:<14} {clients:>2} clients: "
                         f"{summary['per_second']:>7} it/s  p50 {summary['p50_ms']} ms  "
                         f"p99 {summary['p99_ms']} ms  CPU/it: Python "
                         f"{summary['python_cpu_ms']} ms, PostgreSQL "
                         f"{summary['postgres_cpu_ms']} ms  n {summary['iterations']}  "
                         f"errors {summary['errors']}"
                         + (f"  ({summary['first_error']})" if summary["first_error"] else ""))
    finally:
        for probe in probes.values():
            await probe.close()


async def floor_statements(served: Served, workloads: list[Workload],
                           data: BenchData) -> dict[str, list[int]]:
    counts: dict[str, list[int]] = {}
    async with http_session(1) as http:
        for workload in workloads:
            seen: list[int] = []
            headers: dict[str, str] = {}
            plain = sender(http, served.base, headers)  # lower-case names

            async def send(path: str, body: bytes, request_headers: dict[str, str],
                           seen: list[int] = seen, headers: dict[str, str] = headers,
                           plain: Any = plain) -> tuple[int, bytes]:
                headers.clear()
                answer = await plain(path, body, request_headers)
                seen.append(int(headers.get("x-sql-statements", "0")))
                return answer  # type: ignore[no-any-return]

            await workload.floor(send, data, 0, 999_999_999)
            counts[workload.key] = seen
    return counts


# --- main ------------------------------------------------------------------------------------


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small dataset, few requests (about two minutes)")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--pool-size", type=int, default=None,
                        help="DB_POOL_SIZE for both servers (default: the server's default)")
    parser.add_argument("--only", nargs="*", help="workload keys to run")
    args = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    facts = machine_facts()
    _log(f"machine: {facts['cpus']} CPUs ({facts['cpu_model']}), load {facts['load_average']}")
    data, data_facts = await prepare_data(args.database_url, args.quick)
    workloads = [w for w in WORKLOADS if not args.only or w.key in args.only]
    graphql_workloads = [w for w in workloads if available(w, data)]
    for workload in workloads:
        if workload not in graphql_workloads:
            _log(f"{workload.key}: {', '.join(workload.needs)} not in the schema yet: "
                 "floor only, GraphQL n/a")

    _log("counting SQL statements per request in process")
    graphql_counts = await count_statements(data, graphql_workloads)
    _log("tracemalloc peak of one 500-job portal request, in process")
    peaks = await memory_peaks(data)
    _log(", ".join(f"{key} {value / 1024 / 1024:.1f} MiB" for key, value in peaks.items()))

    env = bench_environment(args.database_url)
    if args.pool_size:
        env["DB_POOL_SIZE"] = str(args.pool_size)
    floor_env = {"BENCH_DATABASE_URL": args.database_url,
                 **({"DB_POOL_SIZE": env["DB_POOL_SIZE"]} if "DB_POOL_SIZE" in env else {})}
    # Two phases, so that at most two servers hold connections (the PostgreSQL is shared):
    # the floor against one worker, then one worker against two.
    graphql_keys = {w.key for w in graphql_workloads}
    runs: dict[str, dict[str, Any]] = {}
    floor_port, one_port = free_port(), free_port()
    _log(f"phase 1: floor on {floor_port} and GraphQL (1 worker) on {one_port}")
    with serving(floor_command(floor_port, 1), floor_env, floor_port) as floor, \
            serving(graphql_command(one_port, 1), env, one_port) as one_worker:
        floor_counts = await floor_statements(floor, workloads, data)
        await measure({"floor": floor, "w1": one_worker}, workloads, graphql_keys, data,
                      args.quick, (1, CLIENTS), runs)
    one_port, two_port = free_port(), free_port()
    _log(f"phase 2: GraphQL with 1 worker on {one_port} and with 2 workers on {two_port}")
    with serving(graphql_command(one_port, 1), env, one_port) as one_worker, \
            serving(graphql_command(two_port, 2), env, two_port) as two_workers:
        await measure({"w1b": one_worker, "w2": two_workers}, graphql_workloads, graphql_keys,
                      data, args.quick, (CLIENTS,), runs)

    report: dict[str, Any] = {
        "started": started.isoformat(), "finished": datetime.now(UTC).isoformat(),
        "quick": args.quick, "machine": facts | {"load_average_end": os.getloadavg()},
        "data": data_facts, "pool_size": env.get("DB_POOL_SIZE", "server default"),
        "query_max_cost": env["QUERY_MAX_COST"], "memory_peak_bytes": peaks,
        "workloads": {}}
    for workload in workloads:
        has_graphql = workload in graphql_workloads
        report["workloads"][workload.key] = {
            "title": workload.title, "runs": runs.get(workload.key, {}),
            "graphql": "measured" if has_graphql else "n/a",
            "note": "" if has_graphql else
                    f"{', '.join(workload.needs)} not in the schema yet: floor only",
            "graphql_statements": graphql_counts.get(workload.key),
            "floor_statements": floor_counts.get(workload.key)}
    rendered = table(report) + "\n\n" + memory_lines(report)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    for name in (f"{stamp}.json", "latest.json"):
        (RESULTS / name).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    (RESULTS / "latest.md").write_text(rendered + "\n")
    print()
    print(rendered)
    print(f"\nwritten: bench/results/{stamp}.json (and latest.json, latest.md)")
    return 0


def run() -> int:
    try:
        import uvloop

        return uvloop.run(main())
    except ImportError:
        return asyncio.run(main())


if __name__ == "__main__":
    raise SystemExit(run())

