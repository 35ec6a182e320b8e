"""Prometheus metrics: what is counted, and the `/metrics` page that exposes it.

With several worker processes (`portal-graph serve --workers N`) each process counts on its
own; set PROMETHEUS_MULTIPROC_DIR to an empty, writable folder before start-up and every
process writes its samples there, and whichever process answers a scrape adds them all up.
The outbox gauges are read from PostgreSQL at scrape time, so they are the same whichever
instance answers.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
import re
from collections.abc import Iterable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portal_graph.db.engine import make_sessionmaker
from portal_graph.db.tenancy import SystemContext, system_tenancy
from portal_graph.mail import repository as mail_repo

log = logging.getLogger("portal_graph.observability")
# A `_created` timestamp per series doubles the page for nothing a dashboard uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OUTBOX_QUERY_TIMEOUT_SECONDS = 2.0

# Operation names come from clients: a label per name would let any client create series
# without end. Only names of validated operations become labels, and only from signed-in
# callers or from the product's own anonymous pages (the accept page, GraphiQL's sign-in and
# introspection); up to this many per process; everything else shares OTHER.
MAX_OPERATION_NAMES = 200
OWN_ANONYMOUS_OPERATIONS = frozenset({"InvitationPreview", "AcceptInvitation", "Login",
                                      "IntrospectionQuery"})
# Parenthesised so they can never be mistaken for a real operation (GraphQL names can't
# contain parentheses).
ANONYMOUS = "(anonymous)"
INVALID = "(invalid)"
OTHER = "(other)"
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
_known_operations: set[str] = set()

GRAPHQL_REQUESTS = Counter(
    "portal_graph_graphql_requests",
    "GraphQL operations answered, by operation name and outcome (ok; error: executed "
    "with errors; rejected: refused before execution; failed: cut off by the deadline, "
    "the database or a bug, answered with a 5xx).",
    ["operation", "outcome"],
)
GRAPHQL_DURATION = Histogram(
    "portal_graph_graphql_request_duration_seconds",
    "Time to validate and execute one GraphQL operation, by operation name.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GRAPHQL_ERRORS = Counter(
    "portal_graph_graphql_errors",
    "Errors in GraphQL responses (top-level `errors`), by extensions.code.",
    ["code"],
)
SQL_STATEMENTS = Histogram(
    "portal_graph_sql_statements_per_request",
    "SQL statements one /graphql request ran, by operation name ((batch) for batches).",
    ["operation"],
    buckets=(1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233),
)
HTTP_REQUESTS = Counter(
    "portal_graph_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "portal_graph_http_request_duration_seconds",
    "Time from the request to the end of the response, by route template.",
    ["route"],
)
OUTBOX_DELIVERIES = Counter(
    "portal_graph_outbox_delivery_attempts",
    "Emails handed to the mail transport by this process's outbox worker, by result "
    "(sent, error: will be retried or, after the last attempt, marked FAILED).",
    ["outcome"],
)

EVENTS_HEARD = Counter(
    "portal_graph_events_heard",
    "Domain events this process's event hub heard on its LISTEN connection, from whichever "
    "process or instance published them, by kind.",
    ["kind"],
)
READS_SERVED = Counter(
    "portal_graph_db_reads",
    "Read-only requests with a bearer token where read replicas are configured, by where "
    "their operations ran: replica or primary.",
    ["target"],
)
REPLICA_SKIPPED = Counter(
    "portal_graph_db_replica_skipped",
    "Read-only requests a replica did not serve, by replica and reason: down, lagging (more "
    "than DB_REPLICA_MAX_LAG_BYTES behind), behind_session (not yet at the caller's last "
    "write).",
    ["replica", "reason"],
)
REPLICA_LAG = Gauge(
    "portal_graph_db_replica_lag_bytes",
    "WAL bytes between the primary's position and what the replica has replayed, as last "
    "checked.",
    ["replica"], multiprocess_mode="max")
DATABASE_UNAVAILABLE = Counter(
    "portal_graph_database_unavailable",
    "Times the database could not be reached and the server rode it out, by where: request "
    "(answered 503 with Retry-After), outbox_worker (a poll that will be retried), "
    "maintenance (a sweep that will be retried), readiness (/readyz answered 503).",
    ["where"],
)
# Connection pools, by pool (its PostgreSQL application_name). Changed as connections come
# and go, so that with several processes the page adds up the live ones.
DB_POOL_SIZE = Gauge(
    "portal_graph_db_pool_size",
    "Connections the pool keeps (DB_POOL_SIZE); it may open DB_MAX_OVERFLOW more when busy.",
    ["pool"], multiprocess_mode="livesum")
DB_POOL_CHECKED_OUT = Gauge(
    "portal_graph_db_pool_checked_out",
    "Connections in use (checked out of the pool), overflow included.",
    ["pool"], multiprocess_mode="livesum")
DB_POOL_OVERFLOW = Gauge(
    "portal_graph_db_pool_overflow",
    "Connections open beyond the pool size.",
    ["pool"], multiprocess_mode="livesum")
DB_POOL_WAITING = Gauge(
    "portal_graph_db_pool_waiting",
    "Checkouts waiting for a connection (a full pool; each waits at most "
    "DB_POOL_TIMEOUT_SECONDS, then its request is answered 503).",
    ["pool"], multiprocess_mode="livesum")


def operation_label(name: str | None, *, admit: bool = True) -> str:
    """The label for a validated operation's name, bounded in number per process; a name not
    seen before becomes a label only if `admit` (a signed-in caller) or it is one of the
    product's own anonymous operations."""
    if not name:
        return ANONYMOUS
    if not _NAME.fullmatch(name):
        return OTHER
    if name in _known_operations:
        return name
    if len(_known_operations) >= MAX_OPERATION_NAMES or not (
            admit or name in OWN_ANONYMOUS_OPERATIONS):
        return OTHER
    _known_operations.add(name)
    return name


def error_codes(body: Mapping[str, object]) -> list[str]:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return []
    codes = []
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.append(str(code) if code else "UNKNOWN")
    return codes


def outcome_of(body: Mapping[str, object]) -> str:
    if "data" not in body:
        return "rejected"
    return "error" if body.get("errors") else "ok"


def record_operation(label: str, body: Mapping[str, object], seconds: float) -> str:
    """Count one answered operation; returns its outcome."""
    outcome = outcome_of(body)
    GRAPHQL_REQUESTS.labels(label, outcome).inc()
    GRAPHQL_DURATION.labels(label).observe(seconds)
    for code in error_codes(body):
        GRAPHQL_ERRORS.labels(code).inc()
    return outcome


def record_failure(label: str, seconds: float) -> None:
    GRAPHQL_REQUESTS.labels(label, "failed").inc()
    GRAPHQL_DURATION.labels(label).observe(seconds)


# --- the outbox, read at scrape time ---------------------------------------------------------


class OutboxCollector(Collector):
    """The outbox as it stands in PostgreSQL, read by the scrape that reports it."""

    def __init__(self, depth: Mapping[str, int] | None) -> None:
        self.depth = depth

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "portal_graph_outbox_scrape_ok",
            "1 when the outbox could be read from PostgreSQL for this scrape, else 0.")
        up.add_metric([], 1 if self.depth is not None else 0)
        yield up
        if self.depth is None:
            return
        emails = GaugeMetricFamily(
            "portal_graph_outbox_emails",
            "Emails in the outbox by status: QUEUED (waiting or retrying), SENT, "
            "FAILED (gave up after the last attempt).",
            labels=["status"])
        for status, count in sorted(self.depth.items()):
            emails.add_metric([status], count)
        yield emails


async def _outbox_depth(request: Request) -> dict[str, int] | None:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return None
    try:
        # On the small pool beside the request pool: a scrape of a busy server must not
        # queue behind its requests. Every organization's emails: the METRICS context.
        limiter = make_sessionmaker(runtime.limiter_engine, runtime.settings.db_request_role)
        async with limiter(**system_tenancy(SystemContext.METRICS)) as session:
            return await asyncio.wait_for(mail_repo.queue_depth(session),
                                          OUTBOX_QUERY_TIMEOUT_SECONDS)
    except Exception as error:  # a scrape must answer even when the database is down
        log.warning("metrics: outbox depth unavailable: %s", type(error).__name__)
        return None


def process_registry() -> CollectorRegistry:
    """This process's metrics, or every process's when running multiprocess."""
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition(depth: Mapping[str, int] | None) -> bytes:
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(OutboxCollector(depth))
    # Two registries, one page: the text format allows families one after another.
    return generate_latest(process_registry()) + generate_latest(scraped)


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def metrics_page(request: Request) -> Response:
    """With METRICS_TOKEN set, only for `Authorization: Bearer <it>`; without it, only for
    clients on this machine (a scraper beside the server, or through a tunnel)."""
    token = request.app.state.runtime.settings.metrics_token
    if token is not None:
        offered = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(offered.encode(), token.encode()):
            return Response("Unauthorized\n", status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    elif not _loopback(request):
        return Response("Set METRICS_TOKEN to scrape /metrics from another host.\n",
                        status_code=403)
    depth = await _outbox_depth(request)
    body = await asyncio.to_thread(exposition, depth)  # multiprocess reads files
    return Response(body, media_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def metrics_routes(path: str = "/metrics") -> list[BaseRoute]:
    return [Route(path, metrics_page, methods=["GET"])]
