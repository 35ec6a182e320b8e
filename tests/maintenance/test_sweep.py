"""The housekeeping sweep removes old rate-limit windows and long-dead credentials only."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from portal_graph import maintenance
from portal_graph.auth.tokens import new_token, token_digest
from portal_graph.db import models
from portal_graph.runtime import Runtime


async def test_the_sweep_removes_only_what_is_long_dead(runtime, make, sessionmaker):
    org = await make.organization()
    staff = await make.staff(org)
    person_id = staff["person"]["id"]
    now = datetime.now(UTC)
    live = await make.session_token(org, person_id)
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(models.Session), [
            {"organization_id": org, "id": models.new_id(), "person_id": person_id,
             "token_hash": token_digest(new_token()), "expires_at": now - timedelta(days=40)},
            {"organization_id": org, "id": models.new_id(), "person_id": person_id,
             "token_hash": token_digest(new_token()), "expires_at": now + timedelta(days=1),
             "ended_at": now - timedelta(days=1)},
        ])
        await session.execute(insert(models.ApiToken), [
            {"organization_id": org, "id": models.new_id(), "person_id": person_id,
             "name": "old", "token_hash": token_digest(new_token()),
             "revoked_at": now - timedelta(days=100)},
            {"organization_id": org, "id": models.new_id(), "person_id": person_id,
             "name": "current", "token_hash": token_digest(new_token())},
        ])
        await session.execute(insert(models.RateLimitCounter), [
            {"key": "login:address:old", "window_start": now - timedelta(days=2), "hits": 3},
            {"key": "login:address:now", "window_start": now, "hits": 1},
        ])

    result = await maintenance.sweep(runtime)

    assert result == maintenance.SweepResult(rate_limit_windows=1, sessions=1, api_tokens=1)
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(models.Session)) == 2
        names = (await session.scalars(select(models.ApiToken.name))).all()
        keys = (await session.scalars(select(models.RateLimitCounter.key))).all()
    assert names == ["current"] and keys == ["login:address:now"]
    assert live  # the live session is among the two that stay


async def test_a_sweep_the_database_is_away_for_is_a_warning_line_not_an_error(
    settings, caplog
):
    # given an instance whose database cannot be reached
    runtime = Runtime.create(settings, "postgresql://postgres@127.0.0.1:9/nowhere")
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="portal_graph.maintenance")

    # when it sweeps a few times
    task = asyncio.create_task(maintenance.run(runtime, stop, every_seconds=0.02))
    for _ in range(500):
        if len(caplog.records) >= 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    await runtime.close()

    # then each failed sweep is one warning line, without a traceback
    assert {(r.levelname, r.exc_info) for r in caplog.records} == {("WARNING", None)}
    assert all(r.getMessage().startswith("maintenance sweep: database unavailable, will try "
                                         "again: ConnectionRefusedError") for r in caplog.records)


async def test_a_dead_session_stays_while_a_live_token_descends_from_it(runtime, make,
                                                                         sessionmaker):
    org = await make.organization()
    person_id = (await make.staff(org))["person"]["id"]
    long_ago = datetime.now(UTC) - timedelta(days=60)
    grandparent, parent = models.new_id(), models.new_id()
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(models.Session), [
            {"organization_id": org, "id": grandparent, "person_id": person_id,
             "token_hash": token_digest(new_token()), "expires_at": long_ago},
            {"organization_id": org, "id": parent, "person_id": person_id,
             "token_hash": token_digest(new_token()), "expires_at": long_ago,
             "parent_session_id": grandparent},
            {"organization_id": org, "id": models.new_id(), "person_id": person_id,
             "token_hash": token_digest(new_token()), "expires_at": long_ago},
        ])
        await session.execute(insert(models.ApiToken).values(
            organization_id=org, id=models.new_id(), person_id=person_id, name="feed",
            token_hash=token_digest(new_token()), session_id=parent))

    result = await maintenance.sweep(runtime)

    assert result.sessions == 1
    async with sessionmaker() as session:
        kept = set((await session.scalars(select(models.Session.id))).all())
    assert kept == {grandparent, parent}


async def test_used_and_expired_reset_links_go_after_a_day(runtime, make, sessionmaker):
    person_id = (await make.person())["id"]
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(models.PasswordReset), [
            {"id": models.new_id(), "person_id": person_id, "token_hash": token_digest(t),
             "expires_at": expires, "used_at": used}
            for t, expires, used in [("old", now - timedelta(days=2), None),
                                     ("used", now + timedelta(hours=1), now - timedelta(days=2)),
                                     ("live", now + timedelta(hours=1), None)]])

    result = await maintenance.sweep(runtime)

    assert result.password_resets == 2
    async with sessionmaker() as session:
        left = (await session.scalars(select(models.PasswordReset.token_hash))).all()
    assert left == [token_digest("live")]
