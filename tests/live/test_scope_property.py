"""Property: in any world, a subscriber hears of exactly the changed jobs it may see, as they
are after the change, and never of another one.

Worlds are the visibility tests' (tests/permissions): 2-3 organizations, jobs of every status,
random grants, a person external in two organizations, deactivated staff. Every member
subscribes to `jobUpdated` over a real WebSocket; then a random set of jobs changes status
(each change a committed `job.updated`, as the work service publishes it), and what each
subscriber heard must be the oracle's answer: for staff, the changed jobs of their own
organization; for an external user, the changed jobs of their granted customers that are
COMPLETED now. A deactivated member's connection is refused.

LIVE_EXAMPLES sets the number of worlds (default 8).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import replace

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import text, update

from portal_graph.db import models
from portal_graph.db.tenancy import TENANCY, Tenancy
from portal_graph.events import EventKind, publish
from portal_graph.graphql.core.relay import from_global_id
from portal_graph.scope import admin_scope
from tests.conftest import TABLES
from tests.live.support import JOB_UPDATED, LiveClient
from tests.permissions.oracle import sight
from tests.permissions.test_visibility_properties import worlds
from tests.permissions.world import JobStatus, World, store

EXAMPLES = int(os.environ.get("LIVE_EXAMPLES", "8"))
jobs_table = models.table_of(models.Job)


async def _change(app_sessionmaker, world: World, changes: dict[uuid.UUID, JobStatus]) -> None:
    """The changes, one transaction per organization, each job's event published with it."""
    for org in world.organizations:
        mine = {j: s for j, s in changes.items() if world.jobs[j].organization_id == org}
        if not mine:
            continue
        async with app_sessionmaker(info={TENANCY: Tenancy(org)}) as session, session.begin():
            for job_id, status in mine.items():
                await session.execute(update(jobs_table).where(
                    jobs_table.c.organization_id == org, jobs_table.c.id == job_id,
                ).values(status=status))
                await publish(session, admin_scope(org), EventKind.JOB_UPDATED, "Job", job_id,
                              customer_id=world.jobs[job_id].customer_id)
        for job_id, status in mine.items():
            world.jobs[job_id] = replace(world.jobs[job_id], status=status)


async def _heard(client: LiveClient, quiet: float) -> set[uuid.UUID]:
    heard: set[uuid.UUID] = set()
    while True:
        try:
            message = await client.receive(quiet)
        except TimeoutError:
            return heard
        assert message["type"] == "next", message
        parsed = from_global_id(message["payload"]["data"]["jobUpdated"]["id"])
        assert parsed is not None
        heard.add(parsed[1])


@settings(max_examples=EXAMPLES, deadline=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds(), data=st.data())
async def test_a_subscriber_hears_exactly_the_changed_jobs_it_may_see(
        live_url, sessionmaker, app_sessionmaker, engine, world, data):
    tokens = await store(sessionmaker, world)
    clients: dict[uuid.UUID, LiveClient] = {}
    try:
        for member in world.members:
            active = member.id not in world.deactivated
            client = await LiveClient.open(live_url, tokens[member.id], ack=active)
            if not active:
                assert (await client.closed_with())[0] == 4403, world.labels[member.id]
                continue
            clients[member.id] = client
            await client.subscribe(JOB_UPDATED)
        await asyncio.sleep(0.3)  # every subscription has started listening
        changes = {job: data.draw(st.sampled_from(JobStatus), label=world.labels[job])
                   for job in data.draw(st.sets(st.sampled_from(sorted(world.jobs)))
                                        if world.jobs else st.just(set()))}
        await _change(app_sessionmaker, world, changes)
        problems = []
        heard_by = dict(zip(clients, await asyncio.gather(
            *(_heard(client, quiet=0.6) for client in clients.values())), strict=True))
        for member_id, heard in heard_by.items():
            member = next(m for m in world.members if m.id == member_id)
            expected = sight(world, member).jobs & set(changes)
            if heard != expected:
                L = world.labels
                problems.append(f"{L[member_id]}: heard {sorted(L[j] for j in heard)}, "
                                f"expected {sorted(L[j] for j in expected)}")
        assert not problems, "\n" + "\n".join(problems)
    finally:
        for client in clients.values():
            await client.close()
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {TABLES} CASCADE"))
