"""Liveness and readiness.

`/healthz`: the process answers (restarting it would not help anything else). `/readyz`: the
database can be reached, asked on a connection of its own, opened outside the request pool with
a short deadline. A pool with every connection in use is a busy server, not a broken one: a load
balancer must keep sending it work, so readiness never waits for the pool (its use shows in
/metrics instead).
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from sqlalchemy.engine import URL
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from portal_graph.db.outage import describe_outage
from portal_graph.observability.metrics import DATABASE_UNAVAILABLE

log = logging.getLogger("portal_graph.app")

READINESS_TIMEOUT_SECONDS = 2.0
APPLICATION_NAME = "portal-graph-readyz"


def libpq_url(url: URL) -> str:
    """The engine's URL as asyncpg takes it (no `+asyncpg`; a `host=` socket query stays)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def database_reachable(url: str) -> None:
    """Connect, `SELECT 1`, close, within READINESS_TIMEOUT_SECONDS; raises when it cannot."""
    async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
        # No statement cache: one statement per connection, and through PgBouncer's
        # transaction pooling a named statement could meet another probe's of the same name.
        conn = await asyncpg.connect(url, timeout=READINESS_TIMEOUT_SECONDS,
                                     statement_cache_size=0,
                                     server_settings={"application_name": APPLICATION_NAME})
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close(timeout=READINESS_TIMEOUT_SECONDS)


def health_routes(database_url: URL) -> list[BaseRoute]:
    url = libpq_url(database_url)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await database_reachable(url)
        except Exception as error:
            DATABASE_UNAVAILABLE.labels("readiness").inc()
            log.warning("not ready: database unreachable: %s", describe_outage(error))
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ready", "database": "up"})

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
