"""The process's runtime: settings, database engines, secret box, rate limits. No GraphQL here:
the app builds the executor on top (app.py).

Stateless across processes: everything shared (sessions, rate limits, the outbox) lives in
PostgreSQL, so any number of instances can run behind a load balancer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from portal_graph.config import Settings
from portal_graph.cost_buckets import BucketSize, CostBuckets
from portal_graph.db.engine import make_engine, make_sessionmaker
from portal_graph.db.session import RequestSession
from portal_graph.events import EventHub
from portal_graph.mail.secretbox import SecretBox, server_key
from portal_graph.observability.pool import ObservedPool
from portal_graph.ratelimit import RateGuard, RateLimiter, RateLimits, rate_key, rate_limits_from
from portal_graph.replicas import ReadReplicas
from portal_graph.scope import Audience
from portal_graph.trusted_documents import TrustedDocuments


@dataclass
class Runtime:
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
    box: SecretBox
    rate_limiter: RateLimiter
    # Query cost per token, session and anonymous address: on the limiter's engine too, for
    # the same reasons (cost_buckets.py).
    cost_buckets: CostBuckets
    bucket_sizes: dict[Audience, BucketSize]
    trusted_documents: TrustedDocuments
    rate_limits: RateLimits = field(default_factory=RateLimits)
    rate_secret: bytes = b""  # keys the HMAC of what the counters count (ratelimit.py)
    hub: EventHub | None = None  # the process's event listener, while the app runs (app.py)
    replicas: ReadReplicas | None = None  # DATABASE_READ_URLS (replicas.py)

    @property
    def rate_guard(self) -> RateGuard:
        """The guards over the three above, as they are now (a copy with other limits, or
        limits changed in place, guards with those)."""
        return RateGuard(self.rate_limiter, self.rate_limits, self.rate_secret)

    @classmethod
    def create(cls, settings: Settings, database_url: str | None = None) -> Runtime:
        # ObservedPool: each pool's use shows in /metrics, under its application name.
        engine = make_engine(settings, database_url, poolclass=ObservedPool)
        sessionmaker = make_sessionmaker(engine, settings.db_request_role)
        # Every operation also charges its cost bucket here: one autocommit statement before
        # it runs and one after, each a single round trip, so two kept connections serve
        # many requests (past them, a connection is opened and closed per use). Behind
        # PgBouncer these go direct (DATABASE_DIRECT_URL): a charge is made while the
        # request's transaction holds a bouncer connection, and with every bouncer connection
        # so held the charges would wait for one forever.
        limiter_url = (settings.database_direct_url
                       if settings.db_pgbouncer and settings.database_direct_url
                       else database_url)
        limiter_engine = make_engine(settings, limiter_url, pool_size=2, max_overflow=8,
                                     name="portal-graph-limits", durable_commits=False,
                                     poolclass=ObservedPool)
        return cls(
            settings=settings, engine=engine, limiter_engine=limiter_engine,
            sessionmaker=sessionmaker,
            box=SecretBox.from_settings(settings),
            rate_limiter=RateLimiter(make_sessionmaker(limiter_engine,
                                                       settings.db_request_role)),
            cost_buckets=CostBuckets(limiter_engine),
            bucket_sizes=bucket_sizes(settings),
            trusted_documents=TrustedDocuments(),
            rate_limits=rate_limits_from(settings),
            rate_secret=rate_key(server_key(settings)),
            replicas=ReadReplicas.create(settings, engine) if settings.read_urls else None,
        )

    async def close(self) -> None:
        if self.replicas is not None:
            await self.replicas.close()
        await self.engine.dispose()
        await self.limiter_engine.dispose()


def bucket_sizes(settings: Settings) -> dict[Audience, BucketSize]:
    """Each audience's cost bucket (COST_BUCKET_*; admins share staff's)."""
    staff = BucketSize.parse(settings.cost_bucket_staff)
    return {Audience.ANONYMOUS: BucketSize.parse(settings.cost_bucket_anonymous),
            Audience.EXTERNAL: BucketSize.parse(settings.cost_bucket_external),
            Audience.STAFF: staff, Audience.ADMIN: staff}
