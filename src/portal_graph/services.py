"""Process-wide services: settings, database, executor, secret box, rate limits.

Stateless across processes: everything shared (sessions, rate limits, the outbox) lives in
PostgreSQL, so any number of instances can run behind a load balancer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from portal_graph.auth.email import email_key
from portal_graph.config import Settings
from portal_graph.cost_buckets import BucketSize, CostBuckets
from portal_graph.db.engine import make_engine, make_sessionmaker
from portal_graph.db.session import RequestSession
from portal_graph.graphql.budgets import audience_limits
from portal_graph.graphql.execution import Executor
from portal_graph.mail.secretbox import SecretBox, server_key
from portal_graph.problems import Rejected, UserErrorCode
from portal_graph.ratelimit import (
    Limit,
    RateAction,
    RateDecision,
    RateLimiter,
    RateLimits,
    limit_keys,
    rate_key,
)
from portal_graph.scope import Audience
from portal_graph.trusted_documents import TrustedDocuments

if TYPE_CHECKING:
    from portal_graph.graphql.context import Context


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    # Rate-limit counters commit on their own (a rolled-back request still counts), so they
    # need a connection besides the request's: a small pool of their own, so that a burst of
    # requests holding every request connection cannot starve them. /metrics reads the
    # outbox on it too, for the same reason. Their commits don't wait for the WAL flush: every
    # request without a token counts, and a flush each would queue behind the disk; a crash
    # losing the last few hits is harmless.
    limiter_engine: AsyncEngine
    sessionmaker: async_sessionmaker[RequestSession]
    executor: Executor
    box: SecretBox
    rate_limiter: RateLimiter
    # Query cost per token, session and anonymous address; on the limiter's pool too, for
    # the same reasons (cost_buckets.py).
    cost_buckets: CostBuckets
    bucket_sizes: dict[Audience, BucketSize]
    trusted_documents: TrustedDocuments
    rate_limits: RateLimits = field(default_factory=RateLimits)
    rate_secret: bytes = b""  # keys the HMAC of what the counters count (ratelimit.py)

    @classmethod
    def create(cls, settings: Settings, database_url: str | None = None) -> Services:
        engine = make_engine(settings, database_url)
        sessionmaker = make_sessionmaker(engine, settings.db_request_role)
        # Every operation charges its cost bucket here (one statement before, one after), so
        # a few connections stay open: past the pool, each is opened and closed per use.
        limiter_engine = make_engine(settings, database_url, pool_size=4, max_overflow=6,
                                     name="portal-graph-limits", durable_commits=False)
        limiter_sessions = make_sessionmaker(limiter_engine, settings.db_request_role)
        return cls(
            settings=settings, engine=engine, limiter_engine=limiter_engine,
            sessionmaker=sessionmaker,
            executor=Executor(audience_limits(settings)),
            box=SecretBox.from_settings(settings),
            rate_limiter=RateLimiter(limiter_sessions),
            cost_buckets=CostBuckets(limiter_engine),
            bucket_sizes=bucket_sizes(settings),
            trusted_documents=TrustedDocuments(),
            rate_limits=_rate_limits(settings),
            rate_secret=rate_key(server_key(settings)),
        )

    async def close(self) -> None:
        await self.engine.dispose()
        await self.limiter_engine.dispose()

    async def _guard(self, action: RateAction, ctx: Context, email: str | None = None) -> None:
        """Refuse with RATE_LIMITED when this attempt is over any of its limits. An email is
        counted by its comparison key, so spellings of one address share one counter."""
        if email:
            email = email_key(email) or email
        keys = limit_keys(action, ctx.client_address or "unknown", email,
                          secret=self.rate_secret, organization_id=ctx.viewer.organization_id,
                          limits=self.rate_limits)
        decision = await self.rate_limiter.hit_all(keys)
        if not decision.allowed:
            raise Rejected(UserErrorCode.RATE_LIMITED,
                           f"Too many attempts. Try again in {decision.retry_after_seconds} "
                           "seconds.")

    async def guard_login(self, ctx: Context, email: str) -> None:
        await self._guard(RateAction.LOGIN, ctx, email)

    async def guard_accept(self, ctx: Context) -> None:
        await self._guard(RateAction.ACCEPT, ctx)

    async def guard_preview(self, ctx: Context) -> None:
        await self._guard(RateAction.PREVIEW, ctx)

    async def guard_invite(self, ctx: Context) -> None:
        await self._guard(RateAction.INVITE, ctx)

    async def guard_password_guess(self, ctx: Context, email: str) -> None:
        """A current password about to be checked elsewhere than login: login's per-email
        limit, so the same lockout holds whichever door the guesses come through."""
        await self._guard(RateAction.PASSWORD_GUESS, ctx, email)

    async def guard_reset(self, ctx: Context, email: str) -> None:
        await self._guard(RateAction.RESET, ctx, email)

    async def count_anonymous(self, client_address: str | None,
                              operations: int) -> RateDecision:
        """Count a request without a bearer token (each operation of a batch) against its
        address, before its documents are parsed."""
        keys = limit_keys(RateAction.ANONYMOUS, client_address or "unknown",
                          secret=self.rate_secret, limits=self.rate_limits)
        return await self.rate_limiter.hit_all(keys, weight=operations)


def bucket_sizes(settings: Settings) -> dict[Audience, BucketSize]:
    staff = BucketSize.parse(settings.cost_bucket_staff)
    return {Audience.ANONYMOUS: BucketSize.parse(settings.cost_bucket_anonymous),
            Audience.EXTERNAL: BucketSize.parse(settings.cost_bucket_external),
            Audience.STAFF: staff, Audience.ADMIN: staff}


def _rate_limits(settings: Settings) -> RateLimits:
    names = ("login_per_address", "login_per_email", "accept_per_address",
             "preview_per_address", "invites_per_organization", "reset_per_address",
             "reset_per_email", "anonymous_per_address")
    return RateLimits(**{name: Limit(*settings.rate(name)) for name in names})
