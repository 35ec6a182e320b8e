"""An embedded PostgreSQL (the `pgserver` wheel) for a machine with nothing installed."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
PGSERVER = logging.getLogger("pgserver")
_server: Any = None


class _Held(logging.Handler):
    """Keeps records instead of writing them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _quiet_unless_failing() -> Iterator[None]:
    """pgserver tells every initdb, pg_ctl and psql it runs, with their whole output, at INFO:
    held back here, and written out only if starting fails. Afterwards only its warnings and
    errors reach the log."""
    held = _Held()
    PGSERVER.addHandler(held)
    PGSERVER.propagate = False
    try:
        yield
    except BaseException:
        PGSERVER.removeHandler(held)
        PGSERVER.propagate = True
        for record in held.records:
            PGSERVER.handle(record)
        raise
    PGSERVER.removeHandler(held)
    PGSERVER.propagate = True
    PGSERVER.setLevel(logging.WARNING)


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the embedded server and return an asyncpg-ready URL."""
    global _server
    if _server is None:
        pgdata = data_dir / "pgdata"
        with _quiet_unless_failing():
            import pgserver  # imported lazily: it is only needed without DATABASE_URL

            pgdata.mkdir(parents=True, exist_ok=True)
            # Stopped when the last process using the folder exits (pgserver counts them),
            # so a `seed-demo` beside a running `serve` shares its server and nothing is left
            # behind.
            server = pgserver.get_server(pgdata, cleanup_mode="stop")
            server.psql("SELECT 1")  # fail here, clearly, if the server is not usable
            exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'portal_graph'")
            if "1 row" not in exists:
                server.psql("CREATE DATABASE portal_graph")
        _server = server
        log.info("embedded PostgreSQL running", extra={"data_dir": str(pgdata)})
    uri: str = _server.get_uri("portal_graph")
    return uri
