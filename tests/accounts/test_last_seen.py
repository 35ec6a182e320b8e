"""'Last seen' is recorded without ever making a request wait on another one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text, update

from portal_graph.db import models

ME = "{ me { email } }"


async def _stale(sessionmaker, external_id):
    async with sessionmaker() as session, session.begin():
        await session.execute(update(models.ExternalUser)
                              .where(models.ExternalUser.id == external_id)
                              .values(last_seen_at=datetime.now(UTC) - timedelta(hours=1)))
        await session.execute(update(models.Session)
                              .values(last_seen_at=datetime.now(UTC) - timedelta(minutes=5)))


async def test_a_request_records_when_an_external_user_was_last_seen(api, make, sessionmaker):
    org = await make.organization()
    external = await make.external(org, [await make.customer(org)])
    token = await make.session_token(org, external["person"]["id"])
    await _stale(sessionmaker, external["id"])

    await api(ME, token=token)

    async with sessionmaker() as session:
        seen = await session.scalar(select(models.ExternalUser.last_seen_at)
                                    .where(models.ExternalUser.id == external["id"]))
    assert datetime.now(UTC) - seen < timedelta(seconds=30)


async def test_a_request_does_not_wait_while_another_holds_the_last_seen_row(
        api, make, sessionmaker, engine):
    org = await make.organization()
    external = await make.external(org, [await make.customer(org)])
    token = await make.session_token(org, external["person"]["id"])
    await _stale(sessionmaker, external["id"])

    async with engine.connect() as holder:
        # Another request is recording activity: it holds both rows until it commits.
        await holder.execute(text("SELECT 1 FROM external_users WHERE id = :id FOR UPDATE"),
                             {"id": external["id"]})
        await holder.execute(text("SELECT 1 FROM sessions FOR UPDATE"))

        answer = await asyncio.wait_for(api(ME, token=token), timeout=3)

        await holder.rollback()
    assert answer["data"]["me"]["email"] == external["email"]
