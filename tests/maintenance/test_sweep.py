"""The housekeeping sweep removes old rate-limit windows and long-dead credentials only."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from portal_graph import maintenance
from portal_graph.auth.tokens import new_token, token_digest
from portal_graph.db import models
from portal_graph.services import Services


async def test_the_sweep_removes_only_what_is_long_dead(services, make, sessionmaker):
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

    result = await maintenance.sweep(services)

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
    services = Services.create(settings, "postgresql://postgres@127.0.0.1:9/nowhere")
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="portal_graph.maintenance")

    # when it sweeps a few times
    task = asyncio.create_task(maintenance.run(services, stop, every_seconds=0.02))
    for _ in range(500):
        if len(caplog.records) >= 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    await services.close()

    # then each failed sweep is one warning line, without a traceback
    assert {(r.levelname, r.exc_info) for r in caplog.records} == {("WARNING", None)}
    assert all(r.getMessage().startswith("maintenance sweep: database unavailable, will try "
                                         "again: ConnectionRefusedError") for r in caplog.records)
