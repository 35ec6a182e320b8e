"""Fixed-window rate limits kept in PostgreSQL, so every server process shares the counts.

One upsert per hit, in its own short transaction: the count survives a request that rolls
back (a failed login must still count), and concurrent hits from any process serialise on
the row. Windows are aligned to the database clock, so processes with drifting clocks agree.
A fixed window lets up to twice the limit through across a window boundary; for login and
token guessing that is still a hard ceiling, and it costs one row per key and window.

What a counter counts (an address, an email, an organization) is stored only as an HMAC with
a key derived from the server's SECRET_KEY: the table is neither a list of the emails people
tried nor something a dump can be matched against without that key.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from portal_graph.auth.email import email_key
from portal_graph.config import Settings, parse_rate
from portal_graph.problems import Rejected, UserErrorCode


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int  # 0 when allowed
    remaining: int


@dataclass(frozen=True)
class Limit:
    limit: int
    window_seconds: int


def _configured(name: str) -> Limit:
    """A limit's default, as the settings declare it (RATE_LIMIT_*): the one source."""
    return Limit(*parse_rate(Settings.declared(f"rate_limit_{name}")))


@dataclass(frozen=True)
class RateLimits:
    """Without arguments, the settings' defaults; the app takes them from its settings
    (`rate_limits_from`)."""

    login_per_address: Limit = _configured("login_per_address")
    login_per_email: Limit = _configured("login_per_email")
    accept_per_address: Limit = _configured("accept_per_address")
    preview_per_address: Limit = _configured("preview_per_address")
    invites_per_organization: Limit = _configured("invites_per_organization")
    reset_per_address: Limit = _configured("reset_per_address")
    reset_per_email: Limit = _configured("reset_per_email")
    # Every request without a bearer token, before its document is even parsed.
    anonymous_per_address: Limit = _configured("anonymous_per_address")


class RateAction(StrEnum):
    LOGIN = "login"
    ACCEPT = "accept"  # accepting an invitation
    PREVIEW = "preview"  # looking up an invitation by its token before accepting
    INVITE = "invite"
    # An account's current password checked elsewhere than `login` (accepting an invitation,
    # changing the password): charged to login's per-email counter, one limit for every door.
    PASSWORD_GUESS = "password"
    RESET = "reset"  # asking for a "forgot password" email
    ANONYMOUS = "anonymous"  # any request without a bearer token


@dataclass(frozen=True)
class LimitKey:
    key: str
    limit: int
    window_seconds: int


# The window start comes from the database clock; `now()` is fixed for the transaction, so
# the window and the retry delay are computed from the same instant.
_HIT = text("""
    INSERT INTO rate_limit_counters (key, window_start, hits)
    VALUES (
        :key,
        date_bin(make_interval(secs => :window), now(), TIMESTAMPTZ '2000-01-01 00:00:00+00'),
        :weight
    )
    ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limit_counters.hits + :weight
    RETURNING hits,
        ceil(extract(epoch FROM window_start - now()) + :window)::integer AS retry_after
""")

_PRUNE = text("""
    DELETE FROM rate_limit_counters
    WHERE window_start < now() - make_interval(secs => :older_than)
""")


class RateLimiter:
    def __init__(self, sessionmaker: Callable[[], AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def hit(self, key: str, limit: int, window_seconds: int,
                  weight: int = 1) -> RateDecision:
        """Count `weight` attempts (a batch of operations counts each) against `key` and say
        whether they are within `limit`.

        Refused attempts count too, so hammering does not reopen the window early.
        """
        if limit < 0 or window_seconds < 1 or weight < 1:
            raise ValueError("limit must be >= 0, window_seconds and weight >= 1")
        # Its own session: independent of the request's transaction and its rollback.
        async with self._sessionmaker() as session, session.begin():
            row = (
                await session.execute(_HIT, {"key": key, "window": float(window_seconds),
                                             "weight": weight})
            ).one()
        hits, retry_after = int(row.hits), int(row.retry_after)
        if hits <= limit:
            return RateDecision(allowed=True, retry_after_seconds=0, remaining=limit - hits)
        return RateDecision(allowed=False, retry_after_seconds=max(retry_after, 1), remaining=0)

    async def hit_all(self, keys: Iterable[LimitKey], weight: int = 1) -> RateDecision:
        """Count against every key; refused if any is over, retry when all have reopened."""
        decisions = [await self.hit(k.key, k.limit, k.window_seconds, weight) for k in keys]
        if not decisions:
            raise ValueError("no keys to count against")
        return RateDecision(
            allowed=all(d.allowed for d in decisions),
            retry_after_seconds=max(d.retry_after_seconds for d in decisions),
            remaining=min(d.remaining for d in decisions),
        )

    async def prune(self, older_than_seconds: int) -> int:
        """Delete windows that started more than `older_than_seconds` ago; how many went.

        Pass at least the longest window in use, or live counts are reset.
        """
        if older_than_seconds < 1:
            raise ValueError("older_than_seconds must be >= 1")
        async with self._sessionmaker() as session, session.begin():
            result = await session.execute(_PRUNE, {"older_than": float(older_than_seconds)})
        return int(getattr(result, "rowcount", 0) or 0)


def rate_limits_from(settings: Settings) -> RateLimits:
    """The configured limits (RATE_* settings)."""
    return RateLimits(**{limit.name: Limit(*settings.rate(limit.name))
                         for limit in fields(RateLimits)})


class RateGuard:
    """Refuses an attempt with RATE_LIMITED when it is over any of its limits. Each door
    passes what it is limited by (the client's address, an email, the organization), so
    nothing here knows who asks how."""

    def __init__(self, limiter: RateLimiter, limits: RateLimits, secret: bytes) -> None:
        self.limiter = limiter
        self.limits = limits
        self._secret = secret

    async def _guard(self, action: RateAction, address: str | None, email: str | None = None,
                     organization_id: uuid.UUID | None = None) -> None:
        """An email is counted by its comparison key, so spellings of one address share one
        counter."""
        if email:
            email = email_key(email) or email
        keys = limit_keys(action, address or "unknown", email, secret=self._secret,
                          organization_id=organization_id, limits=self.limits)
        decision = await self.limiter.hit_all(keys)
        if not decision.allowed:
            raise Rejected(UserErrorCode.RATE_LIMITED,
                           f"Too many attempts. Try again in {decision.retry_after_seconds} "
                           "seconds.")

    async def login(self, address: str | None, email: str) -> None:
        await self._guard(RateAction.LOGIN, address, email)

    async def accept(self, address: str | None) -> None:
        await self._guard(RateAction.ACCEPT, address)

    async def preview(self, address: str | None) -> None:
        await self._guard(RateAction.PREVIEW, address)

    async def invite(self, organization_id: uuid.UUID | None) -> None:
        await self._guard(RateAction.INVITE, None, organization_id=organization_id)

    async def password_guess(self, email: str) -> None:
        """A current password about to be checked elsewhere than login: login's per-email
        limit, so the same lockout holds whichever door the guesses come through."""
        await self._guard(RateAction.PASSWORD_GUESS, None, email)

    async def reset(self, address: str | None, email: str) -> None:
        await self._guard(RateAction.RESET, address, email)

    async def count_anonymous(self, address: str | None, operations: int) -> RateDecision:
        """Count a request without a bearer token (each operation of a batch) against its
        address, before its documents are parsed."""
        keys = limit_keys(RateAction.ANONYMOUS, address or "unknown", secret=self._secret,
                          limits=self.limits)
        return await self.limiter.hit_all(keys, weight=operations)


def rate_key(server_key: str) -> bytes:
    """The HMAC key of the counters' subjects, derived from the server's SECRET_KEY (every
    instance shares it, so every instance counts into the same rows)."""
    return hmac.new(server_key.encode(), b"portal-graph rate-limit subjects",
                    hashlib.sha256).digest()


def limit_keys(
    action: RateAction,
    address: str | None,
    email: str | None = None,
    *,
    secret: bytes,
    organization_id: uuid.UUID | None = None,
    limits: RateLimits | None = None,
) -> list[LimitKey]:
    """The counters one attempt at `action` is charged to, with their limits; `secret` (see
    `rate_key`) keys the HMAC that stands for each subject."""
    limits = limits or RateLimits()
    keys: list[LimitKey] = []

    def add(name: str, subject: str, limit: Limit, counter: RateAction = action) -> None:
        digest = hmac.new(secret, f"{name}:{subject}".encode(), hashlib.sha256).hexdigest()
        keys.append(LimitKey(f"{counter.value}:{name}:{digest[:32]}", limit.limit,
                             limit.window_seconds))

    if action is RateAction.INVITE:
        if organization_id is None:
            raise ValueError("invites are limited per organization: pass organization_id")
        add("organization", str(organization_id), limits.invites_per_organization)
        return keys
    if action is RateAction.PASSWORD_GUESS:
        if not email:
            raise ValueError("password guesses are limited per email: pass the email")
        add("email", email.strip().lower(), limits.login_per_email, counter=RateAction.LOGIN)
        return keys
    if address is None:
        raise ValueError(f"{action.value} is limited per address: pass the client address")
    per_address = {
        RateAction.LOGIN: limits.login_per_address,
        RateAction.ACCEPT: limits.accept_per_address,
        RateAction.PREVIEW: limits.preview_per_address,
        RateAction.RESET: limits.reset_per_address,
        RateAction.ANONYMOUS: limits.anonymous_per_address,
    }[action]
    add("address", client_network(address), per_address)
    if action is RateAction.LOGIN and email:
        add("email", email.strip().lower(), limits.login_per_email)
    if action is RateAction.RESET and email:
        add("email", email.strip().lower(), limits.reset_per_email)
    return keys


def client_network(address: str) -> str:
    """The unit an address is limited by: the IPv4 address, or the IPv6 /64.

    One IPv6 subscriber usually holds a whole /64; limiting single addresses would give
    them 2**64 fresh counters.
    """
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()  # not an IP (a test client, a socket): limit it as given
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)

