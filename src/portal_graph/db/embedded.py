"""An embedded PostgreSQL (the `pgserver` wheel) for a machine with nothing installed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
_server: Any = None


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the embedded server and return an asyncpg-ready URL."""
    global _server
    if _server is None:
        import pgserver  # imported lazily: it is only needed without DATABASE_URL

        pgdata = data_dir / "pgdata"
        pgdata.mkdir(parents=True, exist_ok=True)
        # Stopped when the last process using the folder exits (pgserver counts them), so a
        # `seed-demo` beside a running `serve` shares its server and nothing is left behind.
        _server = pgserver.get_server(pgdata, cleanup_mode="stop")
        log.info("embedded PostgreSQL running", extra={"data_dir": str(pgdata)})
        _server.psql("SELECT 1")  # fail here, clearly, if the server is not usable
        exists = _server.psql("SELECT 1 FROM pg_database WHERE datname = 'portal_graph'")
        if "1 row" not in exists:
            _server.psql("CREATE DATABASE portal_graph")
    uri: str = _server.get_uri("portal_graph")
    return uri
