"""A signed-in request while anonymous clients flood the server with the costliest documents.

`.venv/bin/python bench/flood.py [--seconds 20] [--flooders 8] [--rate 4]`

1. Makes (or reuses) its own database (`portal_graph_flood` on 127.0.0.1:5432, or
   --database-url), starts `portal-graph serve --demo` (one worker) and signs the demo admin in.
2. Quiet: one signed-in client sends `{ me { email } }` back to back for --seconds.
3. Flood: the same, while --flooders anonymous clients each send --rate documents a second,
   taking turns through the worst documents we could build under the anonymous limits: the
   244-selection `{ me { organization { name } ... } }` of issue 17, 196 x
   `organization { name id }` and 140 x `__schema { types { name } }`, each made unique by a
   random comment so that no cache helps.
4. Prints p50/p99 of the signed-in request in both phases and what the anonymous clients got,
   and writes bench/results/flood-<timestamp>.json.

The anonymous clients run in a process of their own, so that the measuring client's latencies
are the server's, not a busy load generator's.

Numbers, never assertions: the machine is shared. The floods' documents are tried for their
CPU cost in tests/graphql/test_anonymous_budgets.py (work counted, not time).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import os
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import orjson  # noqa: E402

from bench.load import Measured, http_session  # noqa: E402
from bench.run import RESULTS, ensure_database, free_port, graphql_command, serving  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/portal_graph_flood"
ME = "{ me { email } }"
LOGIN = """mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token userErrors { code } } }"""


def worst_documents() -> list[str]:
    """The costliest anonymous documents we found under 1,000 tokens (validation 180-270 ms
    each before per-audience budgets; see bench/RESULTS.md)."""
    return [
        "{me{" + " ".join(["organization{name}"] * 244) + "}}",
        "{me{" + " ".join(["organization{name id}"] * 196) + "}}",
        "{" + " ".join(["__schema{types{name}}"] * 140) + "}",
    ]


async def signed_in(base: str, token: str, seconds: float) -> Measured:
    measured = Measured(clients=1)
    body = orjson.dumps({"query": ME})
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    async with http_session(1) as http:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            began = time.perf_counter()
            async with http.post(f"{base}/graphql", data=body, headers=headers) as response:
                answer = orjson.loads(await response.read())
            if response.status != 200 or "errors" in answer:
                measured.errors += 1
                measured.first_error = measured.first_error or str(answer)[:200]
                continue
            measured.latencies_ms.append((time.perf_counter() - began) * 1000)
            measured.iterations += 1
        measured.seconds = time.perf_counter() - started
    return measured


async def flooder(base: str, rate: float, stop: asyncio.Event,
                  outcomes: collections.Counter[str], latencies: list[float]) -> None:
    documents = worst_documents()
    headers = {"Content-Type": "application/json"}
    async with http_session(1) as http:
        n = 0
        while not stop.is_set():
            query = documents[n % len(documents)] + f" #{secrets.token_hex(8)}"
            n += 1
            began = time.perf_counter()
            async with http.post(f"{base}/graphql", data=orjson.dumps({"query": query}),
                                 headers=headers) as response:
                answer = orjson.loads(await response.read())
            elapsed = time.perf_counter() - began
            latencies.append(elapsed * 1000)
            errors = answer.get("errors") or []
            outcomes[errors[0]["extensions"]["code"] if errors else "answered"] += 1
            # Paced: `rate` documents a second, like the clients of the report.
            with_rest = 1 / rate - elapsed
            if with_rest > 0:
                try:
                    await asyncio.wait_for(stop.wait(), with_rest)
                except TimeoutError:
                    pass


def flood_process(base: str, flooders: int, rate: float, stop: Any, results: Any) -> None:
    """The anonymous clients, in their own process, until `stop` is set."""

    async def run() -> None:
        halt = asyncio.Event()
        outcomes: collections.Counter[str] = collections.Counter()
        latencies: list[float] = []
        tasks = [asyncio.create_task(flooder(base, rate, halt, outcomes, latencies))
                 for _ in range(flooders)]
        await asyncio.to_thread(stop.wait)  # a process-shared event: waited on in a thread
        halt.set()
        await asyncio.gather(*tasks)
        results.put((dict(outcomes), latencies))

    asyncio.run(run())


async def forget_counts(url: str) -> None:
    """A previous run's anonymous clients used up this address's window: start afresh."""
    conn = await asyncpg.connect(url)
    try:
        if await conn.fetchval("SELECT to_regclass('rate_limit_counters') IS NOT NULL"):
            await conn.execute("DELETE FROM rate_limit_counters")
    finally:
        await conn.close()


async def login(base: str) -> str:
    from portal_graph import demo

    variables = {"email": demo.ADMIN_EMAIL, "password": demo.ADMIN_PASSWORD}
    async with http_session(1) as http, http.post(
            f"{base}/graphql", data=orjson.dumps({"query": LOGIN, "variables": variables}),
            headers={"Content-Type": "application/json"}) as response:
        answer = orjson.loads(await response.read())
    return str(answer["data"]["login"]["token"])


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--flooders", type=int, default=8)
    parser.add_argument("--rate", type=float, default=4, help="documents a second per flooder")
    parser.add_argument("--label", default="", help="a name for this run in the results")
    args = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    await ensure_database(args.database_url)
    await forget_counts(args.database_url)
    port = free_port()
    env = {"DATABASE_URL": args.database_url, "LOG_LEVEL": "WARNING",
           "RUN_OUTBOX_WORKER": "false", "DATA_DIR": str(RESULTS / "flood-data")}
    with serving([*graphql_command(port, 1), "--demo"], env, port) as base:
        token = await login(base)
        quiet = await signed_in(base, token, args.seconds)
        context = multiprocessing.get_context("spawn")
        stop, results = context.Event(), context.Queue()
        flood = context.Process(target=flood_process,
                                args=(base, args.flooders, args.rate, stop, results))
        flood.start()
        await asyncio.sleep(2)  # the flood is on before the measurement starts
        flooded = await signed_in(base, token, args.seconds)
        stop.set()
        answers, anonymous_ms = await asyncio.to_thread(results.get, True, 60)
        flood.join(30)
        outcomes = collections.Counter(answers)

    anonymous = Measured(clients=args.flooders, iterations=len(anonymous_ms),
                         latencies_ms=anonymous_ms)
    report: dict[str, Any] = {
        "label": args.label, "at": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(),
        "load_average": os.getloadavg(), "flooders": args.flooders, "rate": args.rate,
        "signed_in_quiet": quiet.summary(), "signed_in_flooded": flooded.summary(),
        "anonymous": {"answers": dict(outcomes), "p50_ms": anonymous.percentile(50),
                      "p99_ms": anonymous.percentile(99)},
    }
    path = RESULTS / f"flood-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"signed-in {{ me {{ email }} }}, quiet:   p50 {quiet.summary()['p50_ms']} ms  "
          f"p99 {quiet.summary()['p99_ms']} ms  n {quiet.iterations}")
    print(f"signed-in {{ me {{ email }} }}, flooded: p50 {flooded.summary()['p50_ms']} ms  "
          f"p99 {flooded.summary()['p99_ms']} ms  n {flooded.iterations}  "
          f"errors {flooded.errors}")
    print(f"anonymous ({args.flooders} x {args.rate}/s): {dict(outcomes)}  "
          f"p50 {anonymous.summary()['p50_ms']} ms")
    print(f"written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
