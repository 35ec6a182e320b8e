"""Real engines in front of and beside PostgreSQL, for the scaling tests: PgBouncer in
transaction mode, and (tests/replicas) a streaming standby.

Each starts as a child process of the test run on a free port, in a temporary folder, and is
stopped by the fixture that started it. They run as the `postgres` user when the tests run as
root (PgBouncer and the postmaster both refuse to run as root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from tests.hardening.processes import PG_BIN, PrivatePostgres, _as_postgres, free_port

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
# Set by scripts/test for its second pass: the suite's `pooled` tests through PgBouncer.
POOLED_PASS = os.environ.get("PORTAL_GRAPH_TEST_PGBOUNCER", "") not in ("", "0")


def pgbouncer_missing() -> str | None:
    """Why PgBouncer cannot run here, or None when it can."""
    if not os.path.exists(PGBOUNCER):
        return ("pgbouncer is not installed (Debian package `pgbouncer`; scripts/test installs "
                "it when it runs as root)")
    return None


@dataclass
class PgBouncer:
    """PgBouncer 1.18+ with `pool_mode = transaction` in front of one PostgreSQL server."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, server_host: str, server_port: int, users: list[str],
              pool_size: int = 20) -> PgBouncer:
        folder = Path(tempfile.mkdtemp(prefix="portal-graph-pgbouncer-"))
        port = free_port()
        # Clients are trusted (the server behind trusts 127.0.0.1 too); a trusted user must
        # still be listed in the auth file.
        (folder / "users.txt").write_text(
            "".join(f'"{user}" ""\n' for user in users))
        (folder / "pgbouncer.ini").write_text(f"""\
[databases]
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / 'users.txt'}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 1000
server_reset_query =
server_check_delay = 0
server_login_retry = 0.25
logfile = {folder / 'pgbouncer.log'}
pidfile = {folder / 'pgbouncer.pid'}
""")
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
            for path in folder.iterdir():
                shutil.chown(path, "postgres", "postgres")
        process = subprocess.Popen([PGBOUNCER, str(folder / "pgbouncer.ini")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   **as_postgres_user())
        bouncer = cls(folder, port, process)
        bouncer._wait_listening()
        return bouncer

    def _wait_listening(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited {self.process.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pgbouncer did not listen in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def url(self, through: str) -> str:
        """`through` (a postgresql:// URL of the server behind) as it is reached through here."""
        parts = urlsplit(through)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else \
            f"127.0.0.1:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def as_postgres_user() -> dict[str, str]:
    """Popen arguments that run a server as the postgres user when the tests run as root."""
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


def user_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.username or "postgres"


def with_user(url: str, user: str, password: str = "") -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{quote(user)}:{quote(password)}@{host}", parts.path,
                       parts.query, ""))


# --- a primary and its streaming standby -------------------------------------------------------


@dataclass
class StandbyPair:
    """A private primary (initdb in a temporary folder) and a hot standby of it, made with
    `pg_basebackup -R` and streaming from it. Private, not the machine's shared cluster: that
    one's pg_hba.conf admits no replication connections, its WAL carries every other test
    run's databases, and a test must be free to pause the standby's replay or stop it."""

    primary: PrivatePostgres
    standby: PrivatePostgres

    @classmethod
    def create(cls) -> StandbyPair:
        primary = PrivatePostgres.create()
        try:
            standby = PrivatePostgres(Path(tempfile.mkdtemp(prefix="portal-graph-standby-")))
            if os.geteuid() == 0:
                shutil.chown(standby.folder, "postgres", "postgres")
            subprocess.run(_as_postgres(
                PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port),
                "-U", "postgres", "-D", standby.data, "-R", "-X", "stream", "--no-sync",
                "-c", "fast"), check=True, capture_output=True)
            standby.start()
        except BaseException:
            primary.destroy()
            raise
        return cls(primary, standby)

    def destroy(self) -> None:
        self.standby.destroy()
        self.primary.destroy()


def main(argv: list[str]) -> int:
    """For scripts/test's pooled pass: `python -m tests.topology up` makes a primary and its
    standby, both committing with `synchronous_commit = remote_apply` (a commit returns once the
    standby has applied it, so the marked tests' writes and the reads that follow them agree
    on either server), and prints the shell exports that point the suite at them;
    `python -m tests.topology down PRIMARY_FOLDER STANDBY_FOLDER` removes them."""
    import asyncio

    import asyncpg

    if argv[:1] == ["down"] and len(argv) == 3:
        for folder in argv[1:]:
            PrivatePostgres(Path(folder)).destroy()
        return 0
    if argv != ["up"]:
        print("usage: python -m tests.topology up | down PRIMARY_FOLDER STANDBY_FOLDER")
        return 2
    pair = StandbyPair.create()

    async def synchronous() -> None:
        conn = await asyncpg.connect(pair.primary.url())
        try:
            await conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            await conn.execute("ALTER SYSTEM SET synchronous_commit = 'remote_apply'")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    asyncio.run(synchronous())
    print(f"export TEST_DATABASE_ADMIN_URL={pair.primary.url()}")
    print(f"export PORTAL_GRAPH_TEST_STANDBY_PORT={pair.standby.port}")
    print(f"export PORTAL_GRAPH_TEST_PAIR='{pair.primary.folder} {pair.standby.folder}'")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
