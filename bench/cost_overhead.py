"""What the cost accounting costs: the bench's GraphQL workloads with `extensions.cost` and the
cost buckets on (the default), then off (COST_ACCOUNTING=false), each against the floor.

`.venv/bin/python bench/cost_overhead.py [--quick] [--database-url URL] [--only KEY...]`

The data is bench/run.py's (`portal-graph seed-scale`, in a database of its own by default).
Two phases, so that at most two servers hold connections (the PostgreSQL is shared): the floor
with the accounting on, then the floor with it off; each phase's ratio is to its own floor, so
both meet the load of their moment. The buckets are sized so that nothing is throttled
(bench_environment): this measures the bookkeeping, one upsert before each operation and one
correction after it on the limiter's own pool, plus counting the response's fields.
Numbers, never assertions: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from bench.run import (  # noqa: E402
    RESULTS,
    floor_command,
    free_port,
    graphql_command,
    measure,
    prepare_data,
    serving,
)
from bench.workloads import WORKLOADS, available, bench_environment  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/portal_graph_bench_cost"
CLIENT_COUNTS = (1, 8)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--only", nargs="*", help="workload keys to run")
    args = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    data, facts = await prepare_data(args.database_url, args.quick)
    workloads = [w for w in WORKLOADS
                 if available(w, data) and (not args.only or w.key in args.only)]
    keys = {w.key for w in workloads}
    floor_env = {"BENCH_DATABASE_URL": args.database_url}
    runs: dict[str, dict[str, Any]] = {}
    for label, accounting in (("on", "true"), ("off", "false")):
        env = bench_environment(args.database_url) | {"COST_ACCOUNTING": accounting}
        floor_port, port = free_port(), free_port()
        with serving(floor_command(floor_port, 1), floor_env, floor_port) as floor, \
                serving(graphql_command(port, 1), env, port) as server:
            await measure({f"floor_{label}": floor, label: server}, workloads, keys, data,
                          args.quick, CLIENT_COUNTS, runs)

    lines = ["| workload | clients | floor p50 ms | accounting on: p50 ms (x floor) | "
             "off: p50 ms (x floor) | on vs off |", "|---|---|---|---|---|---|"]
    for workload in workloads:
        measured = runs.get(workload.key, {})
        for clients in CLIENT_COUNTS:
            on, off = measured.get(f"on@{clients}"), measured.get(f"off@{clients}")
            floor_on, floor_off = (measured.get(f"floor_on@{clients}"),
                                   measured.get(f"floor_off@{clients}"))
            if not (on and off and floor_on and floor_off):
                continue
            ratio_on = on["p50_ms"] / floor_on["p50_ms"]
            ratio_off = off["p50_ms"] / floor_off["p50_ms"]
            lines.append(
                f"| {workload.title} | {clients} | {floor_on['p50_ms']} / {floor_off['p50_ms']} "
                f"| {on['p50_ms']} ({ratio_on:.2f}x) | {off['p50_ms']} ({ratio_off:.2f}x) "
                f"| {(ratio_on / ratio_off - 1) * 100:+.1f}% |")
    report = {"at": datetime.now(UTC).isoformat(), "quick": args.quick, "data": facts,
              "runs": runs, "table": lines}
    path = RESULTS / f"cost-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print("\n".join(lines))
    print(f"written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
