"""The bench's report: the machine it ran on, and the table it prints (bench/run.py)."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path
from typing import Any


def machine_facts() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory": memory,
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average": os.getloadavg()}


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def table(report: dict[str, Any]) -> str:
    rows = ["| workload | side | stmts/req | 1 client: it/s | p50 ms | p99 ms | "
            "CPU ms/it: Python | PostgreSQL | 32 clients: it/s | p50 ms | p99 ms | "
            "CPU ms/it: Python | PostgreSQL | p50 ratio to floor (1 client) | "
            "workers 2 / 1 at 32 |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for entry in report["workloads"].values():
        runs = entry["runs"]
        floor1, floor32 = runs.get("floor@1", {}), runs.get("floor@32", {})
        rows.append(_row(entry["title"], "floor", entry["floor_statements"], floor1, floor32,
                         "", ""))
        if entry["graphql"] == "n/a":
            rows.append(f"| | GraphQL | n/a | {entry['note']} |" + " |" * 11)
            continue
        g1, g32, g2 = runs.get("w1@1", {}), runs.get("w1@32", {}), runs.get("w2@32", {})
        ratio = _ratio(g1.get("p50_ms"), floor1.get("p50_ms"))
        # workers 2 / 1 from phase 2, where they ran back to back
        scale = _ratio(g2.get("per_second"), runs.get("w1b@32", {}).get("per_second"))
        rows.append(_row("", "GraphQL (1 worker)", entry["graphql_statements"], g1, g32,
                         f"{ratio}x" if ratio else "", f"{scale}x" if scale else ""))
        rows.append(_row("", "GraphQL (1 worker, phase 2)", "", {}, runs.get("w1b@32", {}),
                         "", ""))
        rows.append(_row("", "GraphQL (2 workers, phase 2)", "", {}, g2, "", ""))
    return "\n".join(rows)


def _row(title: str, side: str, statements: Any, one: dict[str, Any], many: dict[str, Any],
         ratio: str, scale: str) -> str:
    def cell(run: dict[str, Any], key: str) -> str:
        value = run.get(key)
        return "" if value is None else f"{value}"

    def rate(run: dict[str, Any]) -> str:
        errors = run.get("errors")
        return cell(run, "per_second") + (f" ({errors} errors)" if errors else "")

    def cells(run: dict[str, Any]) -> str:
        return (f"{rate(run)} | {cell(run, 'p50_ms')} | {cell(run, 'p99_ms')} "
                f"| {cell(run, 'python_cpu_ms')} | {cell(run, 'postgres_cpu_ms')}")

    stmts = "+".join(map(str, statements)) if isinstance(statements, list) else statements
    return f"| {title} | {side} | {stmts} | {cells(one)} | {cells(many)} | {ratio} | {scale} |"


def memory_lines(report: dict[str, Any]) -> str:
    peaks = report.get("memory_peak_bytes") or {}
    return "\n".join(f"tracemalloc peak of one {key}: {value / 1024 / 1024:.1f} MiB"
                     for key, value in peaks.items())
