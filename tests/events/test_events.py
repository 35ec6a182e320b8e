"""Domain events: told to every listener when their transaction commits, never when it rolls
back; each listener hears its organization's only; a lost listening connection is replaced and
its subscribers are told they missed some."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_graph import events, maintenance
from portal_graph.db import models
from portal_graph.db.tenancy import TENANCY, Tenancy
from portal_graph.events import EventHub, EventKind, publishing, repository
from portal_graph.events.hub import APPLICATION_NAME
from portal_graph.scope import admin_scope


async def heard(subscription: Any) -> events.Event | None:
    """The subscription's next event, waiting at most five seconds for it."""
    async with asyncio.timeout(5):
        return await subscription.next()  # type: ignore[no-any-return]


def acting_for(organization_id: uuid.UUID) -> dict[str, Any]:
    return {"info": {TENANCY: Tenancy(organization_id)}}


@pytest.fixture
async def hubs(settings: Any) -> AsyncIterator[list[EventHub]]:
    """Two listeners, as two processes (or instances) would have."""
    started = [EventHub(settings.direct_url), EventHub(settings.direct_url)]
    for hub in started:
        await hub.start()
        await asyncio.wait_for(hub.connected.wait(), 5)
    yield started
    for hub in started:
        await hub.stop()


async def publish_job_completed(app_sessionmaker: Any, org: uuid.UUID, job_id: uuid.UUID, *,
                                commit: bool = True) -> events.Event:
    async with app_sessionmaker(**acting_for(org)) as session:
        async with session.begin() as transaction:
            event = await events.publish(session, admin_scope(org), EventKind.JOB_COMPLETED,
                                         "Job", job_id, customer_id=None)
            if not commit:
                await transaction.rollback()
    return event


async def test_a_committed_event_is_heard_by_every_listener(hubs, make, app_sessionmaker):
    org = await make.organization()
    subscriptions = [hub.subscribe(org) for hub in hubs]
    job_id = uuid.uuid4()

    published = await publish_job_completed(app_sessionmaker, org, job_id)

    told = [await heard(subscription) for subscription in subscriptions]
    assert told == [published, published]
    assert published.subject_id == job_id and published.kind is EventKind.JOB_COMPLETED


async def test_a_rolled_back_event_is_heard_by_nobody_and_not_kept(hubs, make, app_sessionmaker,
                                                                  sessionmaker):
    org = await make.organization()
    subscription = hubs[0].subscribe(org)

    await publish_job_completed(app_sessionmaker, org, uuid.uuid4(), commit=False)
    after = await publish_job_completed(app_sessionmaker, org, uuid.uuid4())

    assert await heard(subscription) == after  # the first was never told
    async with sessionmaker() as session:
        kept = (await session.scalars(select(models.DomainEvent.id))).all()
    assert kept == [after.position]


async def test_a_subscription_hears_its_organization_only(hubs, make, app_sessionmaker):
    acme, beta = await make.organization(), await make.organization()
    at_beta = hubs[0].subscribe(beta)
    everywhere = hubs[1].subscribe(None)

    acme_event = await publish_job_completed(app_sessionmaker, acme, uuid.uuid4())
    beta_event = await publish_job_completed(app_sessionmaker, beta, uuid.uuid4())

    assert await heard(at_beta) == beta_event
    assert [await heard(everywhere), await heard(everywhere)] == [
        acme_event, beta_event]


async def test_positions_increase_and_an_organization_reads_its_events_after_one(
    make, app_sessionmaker,
):
    acme, beta = await make.organization(), await make.organization()
    first = await publish_job_completed(app_sessionmaker, acme, uuid.uuid4())
    await publish_job_completed(app_sessionmaker, beta, uuid.uuid4())
    third = await publish_job_completed(app_sessionmaker, acme, uuid.uuid4())

    async with app_sessionmaker(**acting_for(acme)) as session:
        rows = await repository.after(session, admin_scope(acme), first.position)
        latest = await repository.latest_position(session, admin_scope(acme))

    assert first.position < third.position
    assert [row.id for row in rows] == [third.position]
    assert latest == third.position


async def test_handlers_run_inside_the_publishing_transaction(
    monkeypatch, make, app_sessionmaker, sessionmaker,
):
    org = await make.organization()
    seen: list[events.Event] = []

    async def handler(session: Any, scope: Any, event: events.Event) -> None:
        seen.append(event)
        await session.execute(insert(models.Customer).values(
            organization_id=scope.organization_id, id=models.new_id(), name="Made by handler"))

    monkeypatch.setattr(publishing, "_HANDLERS", [])
    events.on_publish(handler)

    await publish_job_completed(app_sessionmaker, org, uuid.uuid4(), commit=False)
    await publish_job_completed(app_sessionmaker, org, uuid.uuid4())

    async with sessionmaker() as session:
        names = (await session.scalars(select(models.Customer.name))).all()
    assert len(seen) == 2
    assert names == ["Made by handler"]  # the rolled-back transaction took its handler's work


async def test_a_lost_listening_connection_is_replaced_and_subscribers_are_told(
    hubs, make, app_sessionmaker, engine: AsyncEngine,
):
    org = await make.organization()
    hub = hubs[0]
    subscription = hub.subscribe(org)
    assert not subscription.take_missed()

    async with engine.connect() as conn:  # what a database restart does to the connection
        await conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = :name AND datname = current_database()"),
            {"name": APPLICATION_NAME})
    assert await heard(subscription) is None  # woken: it missed some
    assert subscription.take_missed()
    await asyncio.wait_for(hub.connected.wait(), 10)
    published = await publish_job_completed(app_sessionmaker, org, uuid.uuid4())

    assert await heard(subscription) == published




async def test_events_are_swept_after_three_days(runtime, make, sessionmaker):
    org = await make.organization()
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(models.DomainEvent), [
            {"organization_id": org, "kind": "job.updated", "subject_type": "Job",
             "subject_id": uuid.uuid4(), "occurred_at": now - timedelta(days=4)},
            {"organization_id": org, "kind": "job.updated", "subject_type": "Job",
             "subject_id": uuid.uuid4(), "occurred_at": now - timedelta(days=1)},
        ])

    result = await maintenance.sweep(runtime)

    assert result.domain_events == 1
