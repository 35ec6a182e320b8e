"""A bounded load generator: N clients share a fixed number of iterations and a time cap."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import aiohttp

from bench.cpu import CpuProbe
from bench.workloads import BenchData, Iteration, Send


@dataclass
class Measured:
    clients: int
    iterations: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    first_error: str | None = None
    python_cpu_seconds: float | None = None
    postgres_cpu_seconds: float | None = None
    backends: int | None = None

    @property
    def per_second(self) -> float:
        return self.iterations / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float | None:
        if not self.latencies_ms:
            return None
        if len(self.latencies_ms) == 1:
            return self.latencies_ms[0]
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(p) - 1]

    def summary(self) -> dict[str, object]:
        return {"clients": self.clients, "iterations": self.iterations, "errors": self.errors,
                "seconds": round(self.seconds, 3), "per_second": round(self.per_second, 1),
                "p50_ms": _round(self.percentile(50)), "p99_ms": _round(self.percentile(99)),
                "mean_ms": _round(statistics.fmean(self.latencies_ms)
                                  if self.latencies_ms else None),
                "python_cpu_ms": self._per_iteration(self.python_cpu_seconds),
                "postgres_cpu_ms": self._per_iteration(self.postgres_cpu_seconds),
                "postgres_backends": self.backends,
                "first_error": self.first_error}

    def _per_iteration(self, seconds: float | None) -> float | None:
        """CPU milliseconds per measured iteration (failed ones included: they cost too)."""
        done = self.iterations + self.errors
        return None if seconds is None or not done else round(seconds * 1000 / done, 2)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def http_session(clients: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=clients, keepalive_timeout=60,
                                     enable_cleanup_closed=True)
    return aiohttp.ClientSession(connector=connector,
                                 timeout=aiohttp.ClientTimeout(total=120))


def sender(http: aiohttp.ClientSession, base_url: str,
           seen_headers: dict[str, str] | None = None) -> Send:
    async def send(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        async with http.post(base_url + path, data=body, headers=headers) as response:
            content = await response.read()
            if seen_headers is not None:
                seen_headers.update((k.lower(), v) for k, v in response.headers.items())
            return response.status, content

    return send


async def drive(base_url: str, iteration: Iteration, data: BenchData, *, clients: int,
                iterations: int, time_cap: float, warmup: int,
                probe: CpuProbe | None = None) -> Measured:
    """Run `iterations` (at most `time_cap` seconds) over `clients` concurrent clients, each
    on its own keep-alive connection, after `warmup` unmeasured iterations; `probe` measures
    the server's CPU (its processes and its PostgreSQL backends) over the measured part."""
    measured = Measured(clients=clients)
    async with http_session(clients) as http:
        send = sender(http, base_url)
        await _run(send, iteration, data, clients, warmup, time_cap, None)
        if probe is not None:
            await probe.start()
        started = time.perf_counter()
        await _run(send, iteration, data, clients, iterations, time_cap, measured)
        measured.seconds = time.perf_counter() - started
        if probe is not None:
            used = await probe.stop()
            measured.python_cpu_seconds = used.python_seconds
            measured.postgres_cpu_seconds = used.postgres_seconds
            measured.backends = used.backends
    return measured


async def _run(send: Send, iteration: Iteration, data: BenchData, clients: int, total: int,
               time_cap: float, measured: Measured | None) -> None:
    deadline = time.perf_counter() + time_cap
    issued = 0
    offset = 1_000_000 if measured is not None else 0  # distinct invitees after the warm-up

    async def client(number: int) -> None:
        nonlocal issued
        while issued < total and time.perf_counter() < deadline:
            index = issued
            issued += 1
            began = time.perf_counter()
            try:
                await iteration(send, data, number, offset + index)
            except Exception as error:  # counted and reported, never hidden
                if measured is None:  # a failing warm-up shows in the measurement after it
                    continue
                measured.errors += 1
                measured.first_error = measured.first_error or f"{type(error).__name__}: {error}"
                continue
            if measured is not None:
                measured.latencies_ms.append((time.perf_counter() - began) * 1000)
                measured.iterations += 1

    await asyncio.gather(*(client(number) for number in range(clients)))
