"""Rate limiter against the real database: counts, refusals, and counts shared by processes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal_graph.config import Settings
from portal_graph.db.engine import make_engine, make_sessionmaker
from portal_graph.ratelimit import (
    Limit,
    LimitKey,
    RateAction,
    RateLimiter,
    RateLimits,
    client_network,
    limit_keys,
    rate_key,
)

# A day-long window: a test cannot straddle a window boundary (except at midnight UTC).
DAY = 24 * 60 * 60


def fresh_key() -> str:
    return f"test:{uuid.uuid4()}"


@pytest.fixture
def limiter(sessionmaker: async_sessionmaker[AsyncSession]) -> RateLimiter:
    return RateLimiter(sessionmaker)


@pytest.fixture
async def other_process_limiter(settings: Settings) -> AsyncIterator[RateLimiter]:
    """A limiter on its own engine and pool, as a second server process would have."""
    engine = make_engine(settings)
    try:
        yield RateLimiter(make_sessionmaker(engine))
    finally:
        await engine.dispose()


async def test_hits_up_to_the_limit_are_allowed_and_count_down(limiter: RateLimiter) -> None:
    key = fresh_key()

    decisions = [await limiter.hit(key, limit=3, window_seconds=DAY) for _ in range(3)]

    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert all(d.retry_after_seconds == 0 for d in decisions)


async def test_the_hit_after_the_limit_is_refused_with_retry_after(limiter: RateLimiter) -> None:
    key = fresh_key()
    for _ in range(3):
        await limiter.hit(key, limit=3, window_seconds=60)

    refused = await limiter.hit(key, limit=3, window_seconds=60)

    assert refused.allowed is False
    assert refused.remaining == 0
    assert 1 <= refused.retry_after_seconds <= 60


async def test_keys_are_counted_separately(limiter: RateLimiter) -> None:
    first, second = fresh_key(), fresh_key()
    await limiter.hit(first, limit=1, window_seconds=DAY)

    decision = await limiter.hit(second, limit=1, window_seconds=DAY)

    assert decision.allowed is True


async def test_a_hit_counts_even_when_the_request_transaction_rolls_back(
    limiter: RateLimiter, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    key = fresh_key()
    async with sessionmaker() as request_session:
        await request_session.begin()
        await limiter.hit(key, limit=1, window_seconds=DAY)
        await request_session.rollback()

    decision = await limiter.hit(key, limit=1, window_seconds=DAY)

    assert decision.allowed is False


async def test_two_processes_share_one_count(
    limiter: RateLimiter, other_process_limiter: RateLimiter
) -> None:
    key = fresh_key()

    decisions = [
        await (limiter if i % 2 else other_process_limiter).hit(key, limit=4, window_seconds=DAY)
        for i in range(6)
    ]

    assert [d.allowed for d in decisions] == [True, True, True, True, False, False]


async def test_concurrent_hits_from_two_processes_let_exactly_the_limit_through(
    limiter: RateLimiter, other_process_limiter: RateLimiter
) -> None:
    key = fresh_key()

    decisions = await asyncio.gather(*(
        (limiter if i % 2 else other_process_limiter).hit(key, limit=5, window_seconds=DAY)
        for i in range(16)
    ))

    assert sum(d.allowed for d in decisions) == 5


async def test_hit_all_is_refused_when_any_key_is_over(limiter: RateLimiter) -> None:
    tight, loose = LimitKey(fresh_key(), 1, 60), LimitKey(fresh_key(), 100, DAY)
    await limiter.hit_all([tight, loose])

    decision = await limiter.hit_all([tight, loose])

    assert decision.allowed is False
    assert 1 <= decision.retry_after_seconds <= 60


async def test_prune_deletes_old_windows_and_keeps_current_ones(
    limiter: RateLimiter, engine: AsyncEngine
) -> None:
    current = fresh_key()
    await limiter.hit(current, limit=10, window_seconds=60)
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO rate_limit_counters (key, window_start, hits) "
            "VALUES ('test:old', now() - interval '2 days', 7)"
        ))

    deleted = await limiter.prune(older_than_seconds=DAY)

    assert deleted == 1
    async with engine.connect() as conn:
        keys = (await conn.execute(text("SELECT key FROM rate_limit_counters"))).scalars().all()
    assert keys == [current]


# --- which counters an action is charged to ---------------------------------------------------


SECRET = rate_key("the server's SECRET_KEY")


def _subject(name: str, value: str, secret: bytes = SECRET) -> str:
    return hmac.new(secret, f"{name}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def test_a_login_counts_per_address_and_per_email() -> None:
    keys = limit_keys(RateAction.LOGIN, "203.0.113.9", "Ada@Example.com", secret=SECRET)

    assert [(k.key.rsplit(":", 1)[0], k.limit, k.window_seconds) for k in keys] == [
        ("login:address", 20, 60),
        ("login:email", 10, 900),
    ]
    assert keys[0].key == f"login:address:{_subject('address', '203.0.113.9')}"


def test_the_email_is_stored_as_an_hmac_of_its_normalised_form() -> None:
    upper = limit_keys(RateAction.LOGIN, "203.0.113.9", " Ada@Example.com ", secret=SECRET)[1]
    lower = limit_keys(RateAction.LOGIN, "203.0.113.9", "ada@example.com", secret=SECRET)[1]

    assert upper.key == lower.key == f"login:email:{_subject('email', 'ada@example.com')}"
    assert "ada" not in upper.key.lower()


def test_without_the_server_key_a_counter_cannot_be_matched_to_an_email_or_address() -> None:
    ours = limit_keys(RateAction.LOGIN, "203.0.113.9", "ada@example.com", secret=SECRET)
    unsalted = hashlib.sha256(b"ada@example.com").hexdigest()[:32]
    elsewhere = limit_keys(RateAction.LOGIN, "203.0.113.9", "ada@example.com",
                           secret=rate_key("another server"))

    assert unsalted not in ours[1].key
    assert [k.key for k in ours] != [k.key for k in elsewhere]
    assert not {k.key for k in ours} & {k.key for k in elsewhere}


@pytest.mark.parametrize(
    ("action", "limit"),
    [(RateAction.ACCEPT, Limit(20, 60)), (RateAction.PREVIEW, Limit(60, 60)),
     (RateAction.ANONYMOUS, Limit(300, 60))],
)
def test_accept_preview_and_anonymous_requests_count_per_address(action: RateAction,
                                                                  limit: Limit) -> None:
    (key,) = limit_keys(action, "203.0.113.9", None, secret=SECRET)

    assert key == LimitKey(f"{action.value}:address:{_subject('address', '203.0.113.9')}",
                           limit.limit, limit.window_seconds)


def test_configured_limits_replace_the_defaults() -> None:
    limits = RateLimits(login_per_address=Limit(5, 30))

    (per_address, _) = limit_keys(RateAction.LOGIN, "203.0.113.9", "a@b.c", secret=SECRET,
                                  limits=limits)

    assert (per_address.limit, per_address.window_seconds) == (5, 30)


def test_an_action_limited_per_address_needs_the_address() -> None:
    with pytest.raises(ValueError, match="address"):
        limit_keys(RateAction.ACCEPT, None, secret=SECRET)


def test_invites_count_per_organization() -> None:
    organization_id = uuid.uuid4()

    (key,) = limit_keys(RateAction.INVITE, None, secret=SECRET,
                        organization_id=organization_id)

    assert (key.key, key.limit, key.window_seconds) == (
        f"invite:organization:{_subject('organization', str(organization_id))}", 200, 3600
    )


def test_ipv6_addresses_are_limited_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert client_network("2001:db8:1:2:aaaa::1") == client_network("2001:db8:1:2:bbbb::9")
    assert client_network("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_network("::ffff:203.0.113.9") == "203.0.113.9"


def test_a_password_checked_elsewhere_counts_against_the_logins_per_email_counter() -> None:
    (guess,) = limit_keys(RateAction.PASSWORD_GUESS, None, "ada@example.com", secret=SECRET)
    login = limit_keys(RateAction.LOGIN, "203.0.113.9", "ada@example.com", secret=SECRET)[1]

    assert guess == login


def test_a_reset_request_counts_per_address_and_per_email() -> None:
    keys = limit_keys(RateAction.RESET, "203.0.113.9", "ada@example.com", secret=SECRET)

    assert [(k.key.rsplit(":", 1)[0], k.limit, k.window_seconds) for k in keys] == [
        ("reset:address", 10, 3600),
        ("reset:email", 3, 3600),
    ]
