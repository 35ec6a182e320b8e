"""Housekeeping that keeps the shared tables small: old rate-limit windows, dead credentials.

Every instance runs the sweep now and then; the deletes are idempotent, so instances running
it at the same time only repeat each other's work.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass

from sqlalchemy import delete, func, text
from sqlalchemy.dialects.postgresql import UUID

from portal_graph.db import models
from portal_graph.db.outage import database_unavailable, describe_outage
from portal_graph.db.tenancy import SystemContext, system_tenancy
from portal_graph.observability.metrics import DATABASE_UNAVAILABLE
from portal_graph.runtime import Runtime

log = logging.getLogger("portal_graph.maintenance")
# Dead credentials are kept a while for investigations (the audit log keeps the rest).
KEEP_ENDED_SESSIONS = "30 days"
KEEP_REVOKED_TOKENS = "90 days"
KEEP_USED_RESETS = "1 day"
# Events are told as they commit; the rows are kept a few days for listeners catching up.
KEEP_DOMAIN_EVENTS = "3 days"
# A dead session stays while a live API token descends from it: revoking what it derives from
# (auth/revocation.py) must still reach that token.
_ANCESTORS_OF_LIVE_TOKENS = text("""
    WITH RECURSIVE needed(id) AS (
      SELECT session_id FROM api_tokens
       WHERE session_id IS NOT NULL AND revoked_at IS NULL
         AND (expires_at IS NULL OR expires_at > now())
      UNION
      SELECT s.parent_session_id FROM sessions s JOIN needed n ON s.id = n.id
       WHERE s.parent_session_id IS NOT NULL
    ) SELECT id FROM needed""").columns(id=UUID(as_uuid=True))


@dataclass(frozen=True)
class SweepResult:
    rate_limit_windows: int
    sessions: int
    api_tokens: int
    password_resets: int = 0
    domain_events: int = 0
    cost_buckets: int = 0


async def sweep(runtime: Runtime) -> SweepResult:
    longest_window = max(limit.window_seconds for limit in vars(runtime.rate_limits).values())
    windows = await runtime.rate_limiter.prune(older_than_seconds=2 * longest_window)
    longest_drain = max(-(-size.maximum // size.restore_rate)
                        for size in runtime.bucket_sizes.values())
    buckets = await runtime.cost_buckets.prune(older_than_seconds=2 * longest_drain)
    housekeeping = system_tenancy(SystemContext.HOUSEKEEPING)  # every organization's credentials
    async with runtime.sessionmaker(**housekeeping) as session, session.begin():
        sessions = await session.execute(delete(models.Session).where(
            func.coalesce(models.Session.ended_at, models.Session.expires_at)
            < func.now() - text(f"interval '{KEEP_ENDED_SESSIONS}'"),
            models.Session.id.not_in(_ANCESTORS_OF_LIVE_TOKENS.subquery().select())))
        tokens = await session.execute(delete(models.ApiToken).where(
            func.coalesce(models.ApiToken.revoked_at, models.ApiToken.expires_at)
            < func.now() - text(f"interval '{KEEP_REVOKED_TOKENS}'")))
        resets = await session.execute(delete(models.PasswordReset).where(
            func.coalesce(models.PasswordReset.used_at, models.PasswordReset.expires_at)
            < func.now() - text(f"interval '{KEEP_USED_RESETS}'")))
        events = await session.execute(delete(models.DomainEvent).where(
            models.DomainEvent.occurred_at < func.now() - text(f"interval '{KEEP_DOMAIN_EVENTS}'")))
    return SweepResult(windows, sessions.rowcount or 0,  # type: ignore[attr-defined]
                       tokens.rowcount or 0,  # type: ignore[attr-defined]
                       resets.rowcount or 0,  # type: ignore[attr-defined]
                       events.rowcount or 0,  # type: ignore[attr-defined]
                       buckets)


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
