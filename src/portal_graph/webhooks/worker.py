"""The webhook worker: POSTs due deliveries, retries with backoff, disables dead endpoints.

The email outbox's mechanism (mail/worker.py), for HTTP: a worker leases due deliveries
(`SKIP LOCKED`, a lease token and expiry it commits before it sends), POSTs each outside any
transaction, and records the outcome only while the lease is still its own; an expired lease
(its worker died mid-send) is claimed again by another. So each delivery is recorded
delivered once, across processes and restarts; the one window no HTTP client can close (the
receiver answered 2xx and the process died before recording it) sends it again with the same
`webhook-id`, which receivers deduplicate on, as the Standard Webhooks spec asks.

Scope at delivery time: just before sending, a delivery to an external user's endpoint is
checked against that user's grants *now*, through the same `scope.py` filters a request of
theirs would use. Out of scope (access revoked, grant removed, the job no longer completed) it
is recorded SKIPPED and never sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal_graph.config import Settings
from portal_graph.db import tables
from portal_graph.db.outage import database_unavailable, describe_outage
from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import SystemContext, system_tenancy
from portal_graph.mail import outbox, templates
from portal_graph.mail.secretbox import SecretBox
from portal_graph.mail.worker import describe_error, retry_delay
from portal_graph.scope import Audience, Viewer, admin_scope, scope_for
from portal_graph.scoped_sql.rows import visible_by_ids
from portal_graph.webhooks import destinations, signing
from portal_graph.webhooks import repository as repo

logger = logging.getLogger("portal_graph.webhooks")
SUBJECT_TABLES = {"Job": tables.jobs, "MapCapture": tables.map_captures}


@dataclass(frozen=True)
class Outcome:
    delivery: Row[Any]
    endpoint: Row[Any] | None
    skipped: str | None = None  # why it was not sent
    status_code: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.skipped is None and self.error is None


class WebhookWorker:
    def __init__(self, sessionmaker: async_sessionmaker[RequestSession], settings: Settings,
                 box: SecretBox) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._box = box

    def _session(self) -> RequestSession:
        """Due deliveries belong to every organization: the WEBHOOKS system context."""
        return self._sessionmaker(**system_tenancy(SystemContext.WEBHOOKS))

    async def run(self, stop: asyncio.Event) -> None:
        logger.info("webhook worker started")
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception as error:
                if database_unavailable(error):
                    logger.warning("webhook worker: database unavailable, will try again: %s",
                                   describe_outage(error))
                else:
                    logger.exception("webhook worker pass failed")
                handled = 0
            if handled:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._settings.webhook_poll_seconds)
        logger.info("webhook worker stopped")

    async def run_once(self, batch: int = 20) -> int:
        """Deliver what this worker can claim (at most `batch`); returns how many it handled."""
        settings = self._settings
        # Every delivery of the batch must fit in the lease, each at its full deadline.
        batch = min(batch, max(1, int(settings.webhook_lease_seconds
                                      // (settings.webhook_timeout_seconds + 5))))
        async with self._session() as session, session.begin():
            claim = await repo.claim_due(session, batch, self._settings.webhook_lease_seconds)
            found = await repo.endpoints_by_id(
                session, [(d.organization_id, d.endpoint_id) for d in claim.deliveries])
        timeout = httpx.Timeout(self._settings.webhook_timeout_seconds)
        async with httpx.AsyncClient(follow_redirects=False, timeout=timeout,
                                     trust_env=False) as client:
            for delivery in claim.deliveries:
                endpoint = found.get(delivery.endpoint_id)
                outcome = await self._attempt(client, delivery, endpoint)
                async with self._session() as session, session.begin():
                    await self._record(session, claim, outcome)
        return len(claim.deliveries)

    async def _attempt(self, client: httpx.AsyncClient, delivery: Row[Any],
                       endpoint: Row[Any] | None) -> Outcome:
        if endpoint is None or not endpoint.enabled:
            return Outcome(delivery, endpoint, skipped="endpoint disabled")
        if endpoint.owner_external_user_id is not None:
            reason = await self._out_of_scope(delivery, endpoint)
            if reason:
                return Outcome(delivery, endpoint, skipped=reason)
        body = signing.payload(delivery.kind, delivery.subject_type, delivery.subject_id,
                               delivery.customer_id, delivery.occurred_at)
        secret = self._box.decrypt(endpoint.secret_ciphertext)
        try:
            target = await destinations.resolve(
                endpoint.url, allow_private=self._settings.webhook_allow_private)
            headers = {**signing.headers(secret, str(delivery.id), body), "host": target.host}
            # One deadline for the whole exchange (httpx's applies per read), and the answer's
            # body is never read: only its status counts.
            async with asyncio.timeout(self._settings.webhook_timeout_seconds):
                async with client.stream(
                        "POST", target.url, content=body.encode(), headers=headers,
                        extensions={"sni_hostname": target.host.split(":")[0]}) as response:
                    status = response.status_code
        except (destinations.DestinationRefused, destinations.InvalidUrl) as error:
            return Outcome(delivery, endpoint, error=str(error))
        except TimeoutError:
            return Outcome(delivery, endpoint, error="no answer in time")
        except httpx.HTTPError as error:
            return Outcome(delivery, endpoint, error=describe_error(error, secret))
        if 200 <= status < 300:
            return Outcome(delivery, endpoint, status_code=status)
        return Outcome(delivery, endpoint, status_code=status, error=f"HTTP {status}")

    async def _out_of_scope(self, delivery: Row[Any], endpoint: Row[Any]) -> str | None:
        """Why the owner of `endpoint` may not hear of this delivery's subject now, if so."""
        async with self._session() as session, session.begin():
            granted = await repo.owner_grants(session, endpoint.organization_id,
                                              endpoint.owner_external_user_id)
            if granted is None:
                return "the endpoint's owner has no access"
            scope = scope_for(Viewer(
                audience=Audience.EXTERNAL, organization_id=endpoint.organization_id,
                external_user_id=endpoint.owner_external_user_id,
                granted_customer_ids=granted))
            table = SUBJECT_TABLES.get(delivery.subject_type)
            if scope is None or table is None:
                return "not an event for this endpoint"
            if not await visible_by_ids(session, scope, table, [delivery.subject_id]):
                return "out of the owner's scope"
        return None

    async def _record(self, session: AsyncSession, claim: repo.Claim, outcome: Outcome) -> None:
        delivery, settings = outcome.delivery, self._settings
        attempts = delivery.attempts + 1
        if outcome.skipped is not None:
            await repo.record(session, claim, delivery, status="SKIPPED",
                              last_error=outcome.skipped)
            return
        if outcome.delivered:
            recorded = await repo.record(session, claim, delivery, status="DELIVERED",
                                         attempts=attempts, response_code=outcome.status_code,
                                         last_error=None, delivered_at=repo.now())
            if recorded:
                await repo.endpoint_succeeded(session, delivery.organization_id,
                                              delivery.endpoint_id)
            return
        final = attempts >= settings.webhook_max_attempts
        recorded = await repo.record(
            session, claim, delivery, status="FAILED" if final else "QUEUED", attempts=attempts,
            response_code=outcome.status_code, last_error=outcome.error,
            next_attempt_at=repo.later(retry_delay(attempts, settings.webhook_backoff_seconds)))
        logger.warning("webhook delivery %s attempt %d failed: %s", delivery.id, attempts,
                       outcome.error)
        if recorded and await repo.endpoint_failed(session, delivery.organization_id,
                                                   delivery.endpoint_id,
                                                   settings.webhook_disable_after_seconds):
            await self._tell_admins(session, outcome)

    async def _tell_admins(self, session: AsyncSession, outcome: Outcome) -> None:
        assert outcome.endpoint is not None
        organization_id = outcome.delivery.organization_id
        logger.error("webhook endpoint %s disabled after failing for too long",
                     outcome.endpoint.id)
        for address in await repo.admin_emails(session, organization_id):
            await outbox.enqueue(session, admin_scope(organization_id),
                                 template=templates.WEBHOOK_DISABLED, to_address=address,
                                 params={"url": outcome.endpoint.url,
                                         "last_error": outcome.error},
                                 secret=None, box=self._box)
