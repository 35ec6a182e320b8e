"""Housekeeping that keeps the shared tables small: old rate-limit windows, dead credentials.

Every instance runs the sweep now and then; the deletes are idempotent, so instances running
it at the same time only repeat each other's work.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass

from portal_graph.accounts import persons
from portal_graph.auth import repository as credentials
from portal_graph.db.outage import database_unavailable, describe_outage
from portal_graph.db.tenancy import SystemContext, system_tenancy
from portal_graph.events import repository as events
from portal_graph.observability.metrics import DATABASE_UNAVAILABLE
from portal_graph.runtime import Runtime
from portal_graph.webhooks import repository as webhooks

log = logging.getLogger("portal_graph.maintenance")
# Dead credentials are kept a while for investigations (the audit log keeps the rest).
KEEP_ENDED_SESSIONS = "30 days"
KEEP_REVOKED_TOKENS = "90 days"
KEEP_USED_RESETS = "1 day"
# Events are told as they commit; the rows are kept a few days for listeners catching up.
KEEP_DOMAIN_EVENTS = "3 days"
# Settled webhook deliveries (their status and response code are shown in GraphQL) a month.
KEEP_WEBHOOK_DELIVERIES = "30 days"


@dataclass(frozen=True)
class SweepResult:
    rate_limit_windows: int
    sessions: int
    api_tokens: int
    password_resets: int = 0
    domain_events: int = 0
    webhook_deliveries: int = 0
    cost_buckets: int = 0


async def sweep(runtime: Runtime) -> SweepResult:
    longest_window = max(limit.window_seconds for limit in vars(runtime.rate_limits).values())
    windows = await runtime.rate_limiter.prune(older_than_seconds=2 * longest_window)
    longest_drain = max(-(-size.maximum // size.restore_rate)
                        for size in runtime.bucket_sizes.values())
    buckets = await runtime.cost_buckets.prune(older_than_seconds=2 * longest_drain)
    housekeeping = system_tenancy(SystemContext.HOUSEKEEPING)  # every organization's credentials
    async with runtime.sessionmaker(**housekeeping) as session, session.begin():
        sessions = await credentials.delete_dead_sessions(session, KEEP_ENDED_SESSIONS)
        tokens = await credentials.delete_dead_api_tokens(session, KEEP_REVOKED_TOKENS)
        resets = await persons.delete_spent_resets(session, KEEP_USED_RESETS)
        told = await events.delete_told(session, KEEP_DOMAIN_EVENTS)
        deliveries = await webhooks.delete_settled(session, KEEP_WEBHOOK_DELIVERIES)
    return SweepResult(windows, sessions, tokens, resets, told, deliveries, buckets)


async def run(runtime: Runtime, stop: asyncio.Event, every_seconds: float = 600) -> None:
    """Sweep every `every_seconds` (with jitter, so instances spread out) until `stop`."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_seconds * random.uniform(0.8, 1.2))
            return
        except TimeoutError:
            pass
        try:
            result = await sweep(runtime)
            log.info("maintenance sweep", extra={"swept": vars(result)})
        except Exception as error:
            if not database_unavailable(error):
                log.exception("maintenance sweep failed; will try again")
                continue
            DATABASE_UNAVAILABLE.labels("maintenance").inc()
            log.warning("maintenance sweep: database unavailable, will try again: %s",
                        describe_outage(error))
