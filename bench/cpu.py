"""CPU spent per request on both sides of a server: its own processes (Python) and the
PostgreSQL backends serving its connections, read from /proc (Linux only).

Python: utime + stime of every process in the server's process group (uvicorn's supervisor and
its workers), before and after a measurement.

PostgreSQL: the backends whose client port is one of the server's TCP sockets to PostgreSQL
(matched through /proc/<pid>/fd and /proc/net/tcp against `pg_stat_activity.client_port`), and
the parallel workers they lead. Connections come and go (pool overflow, recycling), so the
backends are sampled every SAMPLE_SECONDS during the measurement: a backend that appears is
counted from zero, one that exits keeps its last sample (up to SAMPLE_SECONDS of its CPU, and
short parallel workers between samples, are missed). pg_stat_statements would be exact, but it
needs `shared_preload_libraries` and a restart of the shared cluster, which the bench never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.25
PROBE_NAME = "bench-cpu-probe"


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / TICKS


def group_pids(pgid: int) -> list[int]:
    """The live processes of a process group."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def _socket_ports(postgres_port: int) -> dict[int, int]:
    """inode -> local port of this machine's TCP connections to `postgres_port`."""
    ports: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                local, remote, inode = parts[1], parts[2], int(parts[9])
                if int(remote.rsplit(":", 1)[1], 16) == postgres_port and inode:
                    ports[inode] = int(local.rsplit(":", 1)[1], 16)
    return ports


def client_ports(pids: list[int], postgres_port: int) -> set[int]:
    """Local ports of the sockets these processes hold to PostgreSQL."""
    by_inode = _socket_ports(postgres_port)
    found: set[int] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        port = by_inode.get(int(target[8:-1]))
                        if port is not None:
                            found.add(port)
    return found


@dataclass
class CpuUse:
    python_seconds: float
    postgres_seconds: float
    backends: int  # distinct PostgreSQL backends (and parallel workers) seen


@dataclass
class CpuProbe:
    """Measures one server (a process group) between `start()` and `stop()`."""

    pgid: int
    database_url: str
    postgres_port: int = 5432
    _conn: asyncpg.Connection | None = None
    _python_start: dict[int, float] = field(default_factory=dict)
    _backend_start: dict[int, float] = field(default_factory=dict)
    _backend_last: dict[int, float] = field(default_factory=dict)
    _sampler: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._conn is None:
            self._conn = await asyncpg.connect(
                self.database_url, server_settings={"application_name": PROBE_NAME})
        self._python_start = {pid: cpu for pid in group_pids(self.pgid)
                              if (cpu := process_cpu_seconds(pid)) is not None}
        self._backend_last = {}
        await self._sample()
        self._backend_start = dict(self._backend_last)
        self._sampler = asyncio.create_task(self._sample_until_cancelled())

    async def stop(self) -> CpuUse:
        assert self._sampler is not None
        self._sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._sampler
        await self._sample()
        python = 0.0
        for pid in group_pids(self.pgid):
            now = process_cpu_seconds(pid)
            if now is not None:
                python += now - self._python_start.get(pid, 0.0)
        postgres = sum(cpu - self._backend_start.get(pid, 0.0)
                       for pid, cpu in self._backend_last.items())
        return CpuUse(python, postgres, len(self._backend_last))

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _sample_until_cancelled(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            await self._sample()

    async def _sample(self) -> None:
        assert self._conn is not None
        ports = client_ports(group_pids(self.pgid), self.postgres_port)
        rows = await self._conn.fetch(
            """SELECT a.pid FROM pg_stat_activity a
               WHERE a.client_port = ANY($1::int[])
                  OR a.leader_pid IN (SELECT b.pid FROM pg_stat_activity b
                                      WHERE b.client_port = ANY($1::int[]))""",
            sorted(ports))
        for row in rows:
            cpu = process_cpu_seconds(row["pid"])
            if cpu is not None:
                self._backend_last[row["pid"]] = cpu
