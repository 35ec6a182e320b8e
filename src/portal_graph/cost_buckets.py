"""Leaky buckets of query cost, kept in PostgreSQL so that every server process shares them.

Each API token, session and anonymous address has a bucket: its level rises by what its
requests cost and drains at the audience's restore rate. A request is admitted when its
requested (static) cost fits in what is left; once it has run, the charge is corrected to its
actual cost. Like the rate limits (ratelimit.py): one upsert per charge, in its own short
transaction on the limiter's pool, the level computed from the database clock so that
processes with drifting clocks agree, and an anonymous address stored only as an HMAC.

A bucket charges at most its whole size: a document that costs more (only possible where
QUERY_MAX_COST exceeds the bucket) runs when the bucket is full, and then drains it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_graph.ratelimit import client_network
from portal_graph.scope import Audience, Viewer


@dataclass(frozen=True)
class BucketSize:
    maximum: int  # the most a bucket holds: the cost of a burst
    restore_rate: int  # cost points drained per second: the sustained rate

    @classmethod
    def parse(cls, value: str) -> BucketSize:
        """From MAXIMUM/RESTORE_PER_SECOND, e.g. 100000/5000."""
        maximum, _, rate = value.partition("/")
        return cls(int(maximum), int(rate))


@dataclass(frozen=True)
class Bucket:
    key: str
    size: BucketSize


@dataclass(frozen=True)
class ThrottleStatus:
    admitted: bool
    maximum_available: int
    currently_available: int
    restore_rate: int
    retry_after_seconds: int  # 0 when admitted
    charged: int  # what the bucket holds for this request now


# `drained` is the level now: the stored level less what drained since it was stored (never
# negative; `greatest(..., 0)` on the interval too, as a concurrent transaction may have
# stored a later `now()` than ours). A new bucket starts empty.
_DRAINED = ("greatest(b.used - CAST(:rate AS float8)"
            " * greatest(extract(epoch FROM now() - b.updated_at)::float8, 0), 0)")
_FITS = f"{_DRAINED} + CAST(:cost AS float8) <= CAST(:maximum AS float8)"
_CHARGE = text(f"""
    INSERT INTO cost_buckets AS b (key, used, admitted, updated_at)
    VALUES (:key, :cost, true, now())
    ON CONFLICT (key) DO UPDATE SET
        used = CASE WHEN {_FITS} THEN {_DRAINED} + CAST(:cost AS float8) ELSE {_DRAINED} END,
        admitted = {_FITS},
        updated_at = greatest(b.updated_at, now())
    RETURNING used, admitted
""")
# After the run: the charge becomes the actual cost (`delta` = actual - charged).
_CORRECT = text(f"""
    UPDATE cost_buckets AS b
       SET used = greatest({_DRAINED} + CAST(:delta AS float8), 0),
           updated_at = greatest(b.updated_at, now())
     WHERE key = :key
    RETURNING used
""")
# A bucket untouched for longer than it takes to drain is empty: deleting it changes nothing.
_PRUNE = text("DELETE FROM cost_buckets WHERE updated_at < now() - make_interval(secs => :age)")


class CostBuckets:
    """On a plain connection of the limiter's engine, not a request session: the buckets are
    no tenant's rows, so a statement here needs neither a tenant nor the request role. Each
    is a single statement in autocommit (atomic on its own): one round trip, not the four of
    a session's BEGIN, opening statement, upsert and COMMIT. Every operation pays a charge
    and usually a correction, so this is on every request's path."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def charge(self, bucket: Bucket, cost: int) -> ThrottleStatus:
        """Take `cost` from the bucket if it fits; a refused charge takes nothing."""
        size = bucket.size
        cost = max(0, min(cost, size.maximum))
        async with self._engine.connect() as connection:
            row = (await connection.execute(_CHARGE, {
                "key": bucket.key, "cost": float(cost), "maximum": float(size.maximum),
                "rate": float(size.restore_rate)})).one()
        used, admitted = float(row.used), bool(row.admitted)
        retry = 0
        if not admitted:
            retry = max(1, math.ceil((used + cost - size.maximum) / size.restore_rate))
        return _status(size, used, admitted, retry, cost if admitted else 0)

    async def correct(self, bucket: Bucket, charged: int, actual: int) -> ThrottleStatus:
        """Replace a charge by what the request actually cost."""
        size = bucket.size
        async with self._engine.connect() as connection:
            used = (await connection.execute(_CORRECT, {
                "key": bucket.key, "delta": float(actual - charged),
                "rate": float(size.restore_rate)})).scalar_one_or_none()
        # No row: swept since the charge (it would have had to sit full for a long while).
        return _status(size, float(used or 0.0), True, 0, actual)

    async def prune(self, older_than_seconds: int) -> int:
        """Delete buckets untouched for `older_than_seconds` (pass at least the longest
        drain time, maximum / restore rate, or a bucket still filling is reset)."""
        async with self._engine.connect() as connection:
            result = await connection.execute(_PRUNE, {"age": float(older_than_seconds)})
        return int(getattr(result, "rowcount", 0) or 0)


def _status(size: BucketSize, used: float, admitted: bool, retry: int,
            charged: int) -> ThrottleStatus:
    available = max(0, math.floor(size.maximum - used))
    return ThrottleStatus(admitted, size.maximum, available, size.restore_rate, retry, charged)


def bucket_for(viewer: Viewer, address: str | None, sizes: dict[Audience, BucketSize], *,
               secret: bytes) -> Bucket:
    """The bucket a request is charged to: its API token's, its session's, or (anonymous)
    its address's (the IPv4 address or IPv6 /64, as the rate limits count)."""
    size = sizes[viewer.audience]
    if viewer.api_token_id is not None:
        return Bucket(f"token:{viewer.api_token_id}", size)
    if viewer.session_id is not None:
        return Bucket(f"session:{viewer.session_id}", size)
    network = client_network(address or "unknown")
    digest = hmac.new(secret, f"cost:address:{network}".encode(), hashlib.sha256).hexdigest()
    return Bucket(f"address:{digest[:32]}", size)
