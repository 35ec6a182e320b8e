"""What row-level security costs: the bench's GraphQL workloads with the tenant policies on,
then off, on the same data and server settings.

`.venv/bin/python bench/rls_cost.py [--quick] [--rounds 2] [--sql] [--database-url URL]`

The data is bench/run.py's (`portal-graph seed-scale`, in a database of its own by default).
The server runs as it does on a superuser URL: every transaction switches to the request role,
so the policies apply. "Off" is `ALTER TABLE ... DISABLE ROW LEVEL SECURITY` on every tenant
table (restored at the end, whatever happens); the transaction's opening statement (who it
acts for) still runs then, so this measures the policies, and the statement is counted apart
(tests/performance: one statement more per request). The modes alternate, `--rounds` times,
so that both meet the same machine load; p50 and p99 are over all rounds of a mode.

On a shared machine the end-to-end difference drowns in noise; `--sql` measures where the
policies act instead: the statements each workload runs (captured from the app in process),
each under EXPLAIN ANALYZE (best of 7) as the request role acting for the organization, and
as the superuser, to whom no policy applies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import orjson  # noqa: E402

from bench.load import Measured, drive  # noqa: E402
from bench.run import (  # noqa: E402
    CLIENTS,
    RESULTS,
    budget,
    free_port,
    graphql_command,
    prepare_data,
    serving,
)
from bench.workloads import WORKLOADS, available, bench_environment  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/portal_graph_bench_rls"
TENANT_TABLES = """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r' AND EXISTS (
        SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)
    ORDER BY 1"""


@contextlib.asynccontextmanager
async def policies(url: str, enabled: bool) -> AsyncIterator[None]:
    conn = await asyncpg.connect(url)
    tables: list[str] = []
    try:
        tables = [row[0] for row in await conn.fetch(TENANT_TABLES)]
        verb = "ENABLE" if enabled else "DISABLE"
        for table in tables:
            await conn.execute(f'ALTER TABLE "{table}" {verb} ROW LEVEL SECURITY')
        yield
    finally:
        for table in tables:
            await conn.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
        await conn.close()


async def sql_cost(url: str) -> list[str]:
    """Per workload: the SQL execution time of its statements with the policies, without."""
    import httpx
    from sqlalchemy import event

    from bench.workloads import NODE, PORTAL, SEARCH, bench_settings
    from portal_graph.app import create_app
    from portal_graph.graphql.core.relay import to_global_id
    from portal_graph.scale import mint_session, search_fragment

    conn = await asyncpg.connect(url)
    org = await conn.fetchval(  # the largest organization: the full dataset's, if seeded
        "SELECT organization_id FROM jobs GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    client = await conn.fetchval(
        "SELECT p.email_normalized FROM persons p JOIN external_users e ON e.person_id = p.id "
        "AND e.organization_id = $1 WHERE p.email_normalized LIKE 'scale-client%' ORDER BY 1 "
        "LIMIT 1", org)
    admin = await conn.fetchval(
        "SELECT p.email_normalized FROM persons p JOIN staff_members s ON s.person_id = p.id "
        "AND s.organization_id = $1 AND s.role = 'ADMIN' LIMIT 1", org)
    job = await conn.fetchval("SELECT id FROM jobs WHERE organization_id = $1 LIMIT 1", org)
    external, staff = await mint_session(url, org, client), await mint_session(url, org, admin)
    settings = bench_settings(url)
    app = create_app(settings)
    engine = app.state.runtime.engine.sync_engine
    cases = {"external portal, 50 jobs": (PORTAL, {"jobs": 10}, external),
             "external portal, 500 jobs": (PORTAL, {"jobs": 100}, external),
             "admin externalUsers(search:)": (SEARCH, {"search": search_fragment()}, staff),
             "node(id:) of a job": (NODE, {"id": to_global_id("Job", job)}, staff)}
    lines = ["| workload | statements | SQL time, policies off | on | difference |",
             "|---|---|---|---|---|"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        for title, (query, variables, token) in cases.items():
            seen: list[tuple[str, Any]] = []

            def record(conn: Any, cursor: Any, statement: str, parameters: Any,
                       *args: Any, seen: list[tuple[str, Any]] = seen) -> None:
                seen.append((statement, parameters))

            event.listen(engine, "before_cursor_execute", record)
            await http.post("/graphql", json={"query": query, "variables": variables},
                            headers={"Authorization": f"Bearer {token}"})
            event.remove(engine, "before_cursor_execute", record)
            statements = seen[2:]  # after the tenancy opening and the viewer lookup
            on = sum([await _explained(conn, str(org), s, p, True) for s, p in statements])
            off = sum([await _explained(conn, str(org), s, p, False) for s, p in statements])
            lines.append(f"| {title} | {len(statements)} | {off:.2f} ms | {on:.2f} ms | "
                         f"{on - off:+.2f} ms |")
        lines.append(f"\nthe transaction's opening statement: {await _opening_ms(app):.3f} ms "
                     "median round trip, through the app's own session")
    await app.state.runtime.close()
    await conn.close()
    return lines


async def _opening_ms(app: Any) -> float:
    """The round trip of the statement every transaction now starts with."""
    import time

    from portal_graph.db.tenancy import APPLY, Tenancy

    async with app.state.runtime.sessionmaker() as session, session.begin():
        timings = []
        for _ in range(2000):
            began = time.perf_counter()
            await session.execute(APPLY, Tenancy().params())
            timings.append(time.perf_counter() - began)
    return sorted(timings)[len(timings) // 2] * 1000


async def _explained(conn: asyncpg.Connection, organization: str, statement: str,
                     parameters: Any, policies: bool) -> float:
    best = float("inf")
    for _ in range(7):
        async with conn.transaction():
            if policies:
                await conn.execute("SELECT set_config('role', 'portal_graph_request', true), "
                                   "set_config('app.organization_id', $1, true)", organization)
            plan = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + statement,
                                       *parameters)
        best = min(best, orjson.loads(plan)[0]["Execution Time"])
    return best


def merged(runs: list[Measured]) -> Measured:
    total = Measured(clients=runs[0].clients)
    for run in runs:
        total.iterations += run.iterations
        total.errors += run.errors
        total.seconds += run.seconds
        total.latencies_ms.extend(run.latencies_ms)
        total.first_error = total.first_error or run.first_error
    return total


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--sql", action="store_true",
                        help="only the statements' SQL time, with and without the policies")
    args = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    data, facts = await prepare_data(args.database_url, args.quick)
    if args.sql:
        print("\n".join(await sql_cost(args.database_url)))
        return 0
    workloads = [w for w in WORKLOADS if available(w, data)]
    env = bench_environment(args.database_url)
    runs: dict[tuple[str, bool, int], list[Measured]] = {}
    for round_ in range(args.rounds):
        for enabled in (True, False) if round_ % 2 == 0 else (False, True):
            port = free_port()
            async with policies(args.database_url, enabled):
                with serving(graphql_command(port, 1), env, port) as base:
                    for workload in workloads:
                        for clients in (1, CLIENTS):
                            iterations, cap = budget(workload, clients, args.quick)
                            measured = await drive(base, workload.graphql, data,
                                                   clients=clients, iterations=iterations,
                                                   time_cap=cap, warmup=min(clients, 8) * 2)
                            runs.setdefault((workload.key, enabled, clients), []).append(
                                measured)
                            print(f"round {round_ + 1} policies {'on ' if enabled else 'off'} "
                                  f"{workload.key:<14} {clients:>2} clients: p50 "
                                  f"{measured.percentile(50):.1f} ms, "
                                  f"{measured.per_second:.1f}/s, errors {measured.errors}",
                                  flush=True)

    report: dict[str, Any] = {"at": datetime.now(UTC).isoformat(), "quick": args.quick,
                              "rounds": args.rounds, "data": facts, "workloads": {}}
    lines = ["| workload | clients | policies on: p50 / p99 ms, it/s | off: p50 / p99 ms, it/s "
             "| cost (p50) |", "|---|---|---|---|---|"]
    for workload in workloads:
        for clients in (1, CLIENTS):
            on = merged(runs[workload.key, True, clients]).summary()
            off = merged(runs[workload.key, False, clients]).summary()
            cost = (on["p50_ms"] / off["p50_ms"] - 1) * 100 if on["p50_ms"] and off["p50_ms"] \
                else None
            report["workloads"][f"{workload.key}@{clients}"] = {"on": on, "off": off,
                                                                 "cost_percent": cost}
            lines.append(f"| {workload.title} | {clients} | {on['p50_ms']} / {on['p99_ms']}, "
                         f"{on['per_second']} | {off['p50_ms']} / {off['p99_ms']}, "
                         f"{off['per_second']} | "
                         f"{'' if cost is None else f'{cost:+.1f}%'} |")
    path = RESULTS / f"rls-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print("\n".join(lines))
    print(f"written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
