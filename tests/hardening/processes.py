"""Real processes for the hardening tests: `portal-graph serve`, and a private PostgreSQL.

The machine's PostgreSQL is shared with other test runs, so it is never stopped here; a test
that takes a database down starts its own cluster in a temporary folder and restarts that.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PORTAL_GRAPH = str(Path(sys.executable).with_name("portal-graph"))
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class ServerProcess:
    """One `portal-graph serve` on 127.0.0.1, its output in a file."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start in {timeout} s:\n{self.log()}")

    def terminate(self, timeout: float = 40) -> int:
        """SIGTERM (graceful) and wait; SIGKILL only if it overstays."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(folder: Path, database_url: str, *, secret_key: str, workers: int = 1,
                 wait: bool = True, **env: str) -> ServerProcess:
    """Starts `portal-graph serve` with `workers` processes; `env` adds settings (names as in
    the environment)."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"server-{port}.log"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secret_key,
        "DATA_DIR": str(folder / "data"),
        # No background workers on a database other tests share: a test that wants one says so
        # (a webhook worker here would claim the deliveries tests/webhooks drives by hand).
        "RUN_OUTBOX_WORKER": "false",
        "RUN_WEBHOOK_WORKER": "false",
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "INFO",
        # Cost buckets no test fills by accident (a test sizes its own through `env`).
        "COST_BUCKET_STAFF": "1000000000/100000000",
        "COST_BUCKET_EXTERNAL": "1000000000/100000000",
        "COST_BUCKET_ANONYMOUS": "1000000000/100000000",
        **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [PORTAL_GRAPH, "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=folder)
    server = ServerProcess(port, process, log_path)
    if wait:
        server.wait_healthy()
    return server


# --- a private PostgreSQL ----------------------------------------------------------------------


def _as_postgres(*command: str | Path) -> list[str]:
    """initdb and the postmaster refuse to run as root: run them as the postgres user."""
    args = [str(part) for part in command]
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@dataclass
class PrivatePostgres:
    """A throwaway cluster on its own port that a test may stop and start at will."""

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @classmethod
    def create(cls) -> PrivatePostgres:
        folder = Path(tempfile.mkdtemp(prefix="portal-graph-pg-"))
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        cluster = cls(folder)
        subprocess.run(_as_postgres(PG_BIN / "initdb", "-D", cluster.data, "-U", "postgres",
                                    "--auth=trust", "--no-sync", "-E", "UTF8"),
                       check=True, capture_output=True)
        cluster.start()
        return cluster

    def _ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres(PG_BIN / "pg_ctl", "-D", self.data, *args),
                       check=True, capture_output=True)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=60")
        self._ctl("-o", options, "-l", str(self.folder / "postgres.log"), "-w", "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self._ctl("-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.folder, ignore_errors=True)
