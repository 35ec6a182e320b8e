"""The same server in three database topologies, as ratios to the direct one:
`.venv/bin/python bench/topologies.py [--rounds 2] [--clients 1 8]`.

- direct: `serve` on the primary;
- pgbouncer: `serve` through PgBouncer (Debian's 1.18, transaction mode, DB_PGBOUNCER=true);
- replica: `serve` on the primary with a streaming standby in DATABASE_READ_URLS (the viewer
  is looked up on the primary, the rest of a read-only request runs on the standby).

All three run on one private primary (initdb in a temporary folder, fsync off) and its standby
(pg_basebackup), made by tests/topology.py, with the quick scale dataset; the three servers are
up together and measured back to back, round after round, so that they meet the same machine
load. Workloads: the external portal (50 jobs) and `node(id:)`. Numbers, never assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.topology import PgBouncer, StandbyPair  # noqa: E402

from bench.load import drive  # noqa: E402
from bench.report import machine_facts  # noqa: E402
from bench.run import RESULTS, _log, free_port, graphql_command, prepare_data, serving  # noqa: E402
from bench.workloads import WORKLOADS, bench_environment  # noqa: E402

KEYS = ("portal_50", "node")
TOPOLOGIES = ("direct", "pgbouncer", "replica")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, nargs="*", default=[1, 8])
    parser.add_argument("--iterations", type=int, default=150, help="per measurement")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    facts = machine_facts()
    _log(f"machine: {facts['cpus']} CPUs, load {facts['load_average']}")
    pair = StandbyPair.create()
    bouncer = None
    try:
        primary, standby = pair.primary.url("postgres"), pair.standby.url("postgres")
        data, data_facts = await prepare_data(primary, quick=True)
        bouncer = PgBouncer.start("127.0.0.1", pair.primary.port, ["postgres"], pool_size=10)
        common = {"DB_POOL_SIZE": "8", "DB_MAX_OVERFLOW": "2"}
        envs = {
            "direct": bench_environment(primary) | common,
            "pgbouncer": bench_environment(bouncer.url(primary)) | common | {
                "DB_PGBOUNCER": "true", "DATABASE_DIRECT_URL": primary},
            "replica": bench_environment(primary) | common | {"DATABASE_READ_URLS": standby},
        }
        ports = {name: free_port() for name in TOPOLOGIES}
        workloads = [w for w in WORKLOADS if w.key in KEYS]
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
        with serving(graphql_command(ports["direct"], 1), envs["direct"], ports["direct"]) as a, \
                serving(graphql_command(ports["pgbouncer"], 1), envs["pgbouncer"],
                        ports["pgbouncer"]) as b, \
                serving(graphql_command(ports["replica"], 1), envs["replica"],
                        ports["replica"]) as c:
            servers = {"direct": a, "pgbouncer": b, "replica": c}
            for round_number in range(args.rounds):
                for workload in workloads:
                    for clients in args.clients:
                        for name, served in servers.items():
                            measured = await drive(
                                served.base, workload.graphql, data, clients=clients,
                                iterations=args.iterations, time_cap=20.0,
                                warmup=min(clients, 8) * 2)
                            summary = measured.summary()
                            key = f"{workload.key}@{clients}"
                            runs.setdefault(key, {}).setdefault(name, []).append(summary)
                            _log(f"round {round_number + 1} {name:>9} {key:<13} "
                                 f"{summary['per_second']:>7} it/s  p50 {summary['p50_ms']} "
                                 f"ms  errors {summary['errors']}"
                                 + (f" ({summary['first_error']})"
                                    if summary["first_error"] else ""))
    finally:
        if bouncer is not None:
            bouncer.stop()
        pair.destroy()
    lines = report(runs)
    print("\n".join(lines))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"topologies-{stamp}.json").write_text(json.dumps(
        {"machine": facts, "data": data_facts, "runs": runs}, indent=1, default=str))
    return 0


def report(runs: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    """One line per topology: per workload and client count, the median throughput over the
    rounds as a ratio to the direct run's, and the median p50."""
    keys = sorted(runs)
    lines = ["| topology | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name in TOPOLOGIES:
        cells = []
        for key in keys:
            mine = runs[key][name]
            rate = statistics.median(float(r["per_second"]) for r in mine)
            direct = statistics.median(float(r["per_second"]) for r in runs[key]["direct"])
            p50 = statistics.median(float(r["p50_ms"]) for r in mine)
            errors = sum(int(r["errors"]) for r in mine)
            cells.append(f"{rate / direct:.2f}x ({rate:.0f} it/s, p50 {p50:.1f} ms"
                         + (f", {errors} errors" if errors else "") + ")")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
