"""SQL statements per request, counted in process: the real app over ASGI, on the bench data,
with a `before_cursor_execute` listener on its engine (what tests/performance asserts on)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import event

from bench.workloads import BenchData, Send, Workload, bench_settings


async def count_statements(data: BenchData, workloads: list[Workload], *,
                           verbose: bool = False) -> dict[str, list[int]]:
    """Per workload, the statements of each HTTP call of one iteration (after a warm-up)."""
    from portal_graph.app import create_app
    from portal_graph.services import Services

    settings = bench_settings(data.database_url)
    services = Services.create(settings, data.database_url)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(services.engine.sync_engine, "before_cursor_execute", record)
    app = create_app(settings, services)
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
        await services.close()
    return counts
