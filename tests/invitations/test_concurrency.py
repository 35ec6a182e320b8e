"""Races (NOTES.md): concurrent accepts of one token, concurrent invites of one email. Each
call is its own HTTP request, hence its own database session and transaction."""

from __future__ import annotations

import asyncio

import pytest

from portal_graph.ratelimit import Limit, RateLimits
from tests.invitations.support import (
    ACCEPT,
    INVITE,
    NEW_PASSWORD,
    invited,
    scalar,
    sql,
    token_of,
)

pytestmark = pytest.mark.pooled  # also run through PgBouncer (scripts/test)

PARALLEL_ACCEPTS = 20
PARALLEL_INVITES = 20  # more than the request pool holds: rate limits have a pool of their own


async def test_of_concurrent_accepts_of_one_token_exactly_one_wins(api, org, sessionmaker,
                                                                   runtime, monkeypatch):
    # Each attempt with a password counts against the email's login limit: lift it, this test
    # is about the race.
    monkeypatch.setattr(runtime, "rate_limits",
                        RateLimits(login_per_email=Limit(PARALLEL_ACCEPTS, 60)))
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    variables = {"input": {"token": token_of(sent["inviteUrl"]), "password": NEW_PASSWORD}}

    results = await asyncio.gather(*(api(ACCEPT, variables) for _ in range(PARALLEL_ACCEPTS)))

    payloads = [r["data"]["acceptInvitation"] for r in results]
    winners = [p for p in payloads if p["token"]]
    losers = [p for p in payloads if not p["token"]]
    assert len(winners) == 1
    assert {e["code"] for p in losers for e in p["userErrors"]} == {"INVITATION_INVALID"}
    assert await scalar(sessionmaker, "SELECT count(*) FROM persons "
                                      "WHERE email_normalized = 'ana@client.example'") == 1
    assert await scalar(sessionmaker, "SELECT count(*) FROM external_users") == 1
    assert await scalar(sessionmaker, "SELECT count(*) FROM audit_events "
                                      "WHERE action = 'INVITATION_ACCEPTED'") == 1


async def test_concurrent_invites_of_one_email_make_one_pending_invitation(api, org,
                                                                           sessionmaker):
    names = list(org.customers)

    results = await asyncio.gather(*(api(INVITE, {"input": {
        "email": "Ana@Client.example" if n % 2 else "ana@client.example",
        "customerIds": [org.customer(names[n % len(names)])]}}, token=org.token)
        for n in range(PARALLEL_INVITES)))

    payloads = [r["data"]["inviteExternalUser"] for r in results]
    assert all(p["userErrors"] == [] for p in payloads), payloads
    assert len({p["invitation"]["id"] for p in payloads}) == 1
    assert await scalar(sessionmaker, "SELECT count(*) FROM invitations") == 1
    customers = await sql(sessionmaker, "SELECT c.name FROM invitation_customers ic "
                                        "JOIN customers c ON c.id = ic.customer_id ORDER BY 1")
    assert [c for (c,) in customers] == sorted(names)
    # exactly one link is live: the last writer's; one email is queued for it
    assert await scalar(sessionmaker, "SELECT count(*) FROM email_outbox "
                                      "WHERE status = 'QUEUED'") == 1
