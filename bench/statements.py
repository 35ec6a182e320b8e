"""In process, the real app over ASGI on the bench data: SQL statements per request, counted
with a `before_cursor_execute` listener on its engine (what tests/performance asserts on), and
the tracemalloc peak of one request."""

from __future__ import annotations

import contextlib
import gc
import os
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import event

from bench.workloads import WORKLOADS, BenchData, Send, Workload, bench_settings


async def count_statements(data: BenchData, workloads: list[Workload], *,
                           verbose: bool = False) -> dict[str, list[int]]:
    """Per workload, the statements of each HTTP call of one iteration (after a warm-up)."""
    from portal_graph.app import create_app
    from portal_graph.runtime import Runtime

    settings = bench_settings(data.database_url)
    runtime = Runtime.create(settings, data.database_url)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", record)
    app = create_app(settings, runtime)
    counts: dict[str, list[int]] = {}
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for workload in workloads:
                per_call: list[int] = []

                async def send(path: str, body: bytes, headers: dict[str, str],
                               per_call: list[int] = per_call, key: str = workload.key,
                               ) -> tuple[int, bytes]:
                    seen.clear()
                    response = await client.post(path, content=body, headers=headers)
                    per_call.append(len(seen))
                    if verbose:
                        print(f"--- {key} {path}: {len(seen)} statements")
                        for statement in seen:
                            print("    " + " ".join(statement.split())[:300])
                    return response.status_code, response.content

                sender: Send = send
                await workload.graphql(sender, data, 0, 0)  # warm-up: caches, prepared plans
                per_call.clear()
                await workload.graphql(sender, data, 0, 1)
                counts[workload.key] = list(per_call)
    finally:
        await runtime.close()
    return counts


@contextlib.asynccontextmanager
async def _over_asgi(app: Any) -> AsyncIterator[Send]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def send(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            response = await client.post(path, content=body, headers=headers)
            return response.status_code, response.content

        yield send


async def _peak(iteration: Callable[[int], Awaitable[None]]) -> int:
    """Bytes allocated and still held at the worst moment of one iteration, after a warm-up
    (caches filled): what a request adds to the process at its peak."""
    for i in range(3):
        await iteration(i)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        await iteration(3)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


async def memory_peaks(data: BenchData, workload_key: str = "portal_500") -> dict[str, int]:
    """The tracemalloc peak of one request of `workload_key`, GraphQL and floor, in process."""
    from portal_graph.app import create_app
    from portal_graph.runtime import Runtime

    workload = next(w for w in WORKLOADS if w.key == workload_key)
    peaks: dict[str, int] = {}
    settings = bench_settings(data.database_url)
    runtime = Runtime.create(settings, data.database_url)
    try:
        async with _over_asgi(create_app(settings, runtime)) as send:
            peaks[f"GraphQL {workload_key}"] = await _peak(
                lambda i: workload.graphql(send, data, 0, i))
    finally:
        await runtime.close()

    from bench import floor

    os.environ.setdefault("BENCH_DATABASE_URL", data.database_url)
    app = floor.create_app()
    async with app.router.lifespan_context(app), _over_asgi(app) as send:
        peaks[f"floor {workload_key}"] = await _peak(lambda i: workload.floor(send, data, 0, i))
    return peaks
