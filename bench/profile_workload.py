"""Profile one workload in process, through the whole HTTP app over ASGI (no network), with
pyinstrument (default) or cProfile. Uses the bench data that bench/run.py seeds.

    .venv/bin/python bench/profile_workload.py portal_500 [--quick] [--repeat 20] [--cprofile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.run import DEFAULT_URL, prepare_data
from bench.workloads import WORKLOADS, Send, bench_settings


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=[w.key for w in WORKLOADS])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--quick", action="store_true", help="the quick dataset")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()

    from portal_graph.app import create_app
    from portal_graph.runtime import Runtime

    data, _ = await prepare_data(args.database_url, args.quick)
    workload = next(w for w in WORKLOADS if w.key == args.workload)
    settings = bench_settings(args.database_url)
    runtime = Runtime.create(settings, args.database_url)
    app = create_app(settings, runtime)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def post(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            response = await client.post(path, content=body, headers=headers)
            return response.status_code, response.content

        send: Send = post
        for i in range(3):
            await workload.graphql(send, data, 0, i)
        if args.cprofile:
            profile = cProfile.Profile()
            profile.enable()
        else:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.001)
            profiler.start()
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(args.repeat):
            await workload.graphql(send, data, 0, 100 + i)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if args.cprofile:
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(40)
        else:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
    print(f"{args.workload}: {wall / args.repeat * 1000:.1f} ms wall, "
          f"{cpu / args.repeat * 1000:.1f} ms CPU per iteration (profiled, in process)")
    await runtime.close()


if __name__ == "__main__":
    asyncio.run(main())
