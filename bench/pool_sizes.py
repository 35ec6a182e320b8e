"""Throughput and latency of one GraphQL worker at 32 clients for several pool sizes
(DB_POOL_SIZE, no overflow): evidence for sizing `db_pool_size`.

    .venv/bin/python bench/pool_sizes.py [--quick] [--sizes 2 5 10 20 32]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import drive
from bench.run import (
    CLIENTS,
    DEFAULT_URL,
    budget,
    free_port,
    graphql_command,
    prepare_data,
    serving,
)
from bench.workloads import WORKLOADS, bench_environment


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="*", default=[2, 5, 10, 20, 32])
    parser.add_argument("--only", nargs="*", default=["portal_50", "node", "search"])
    args = parser.parse_args()
    data, _ = await prepare_data(args.database_url, args.quick)
    workloads = [w for w in WORKLOADS if w.key in args.only]
    print("| pool | workload | it/s at 32 clients | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        env = bench_environment(args.database_url) | {"DB_POOL_SIZE": str(size),
                                                      "DB_MAX_OVERFLOW": "0"}
        port = free_port()
        with serving(graphql_command(port, 1), env, port) as base:
            for workload in workloads:
                iterations, cap = budget(workload, CLIENTS, args.quick)
                measured = await drive(base, workload.graphql, data, clients=CLIENTS,
                                       iterations=iterations, time_cap=cap, warmup=16)
                summary = measured.summary()
                print(f"| {size} | {workload.key} | {summary['per_second']} | "
                      f"{summary['p50_ms']} | {summary['p99_ms']} | {summary['errors']} |",
                      flush=True)


if __name__ == "__main__":
    asyncio.run(main())
