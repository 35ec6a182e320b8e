"""Property: in any world, every member sees through every path exactly what section 2 allows.

Worlds are drawn by hypothesis: 2-3 organizations, customers, jobs of every status, assets
linked to several jobs, map captures with and without jobs, staff of each role, external users
with random grants (none included), invitations in every state, audit events, deactivated
staff members (colleagues still see them; they act for nobody, even where the same person is
active staff of another organization), one person external in two organizations and one person
who is staff in one organization and external in another. Each world is stored with bulk
inserts in one transaction and truncated after the example; every member then asks every path
(paths.py) through the HTTP endpoint, and the answers must equal the oracle's (oracle.py).

`@given` on an async test works here: pytest-asyncio (auto mode) runs hypothesis' inner test on
the session's event loop, so the session-scoped engine and app serve every example.

PERMISSION_EXAMPLES sets the number of worlds (default 25). It runs on the execution path
EXECUTION selects: the compiled read plans by default, graphql-core with EXECUTION=graphql.
"""

from __future__ import annotations

import os
import uuid

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.conftest import TABLES
from tests.permissions.paths import check_member, check_signed_out
from tests.permissions.world import InvitationState, JobStatus, Role, World, store

EXAMPLES = int(os.environ.get("PERMISSION_EXAMPLES", "25"))


@st.composite
def organizations(draw: st.DrawFn, world: World) -> uuid.UUID:
    """One organization: its customers, assets, jobs, captures, staff and external users."""
    org = world.organization()
    customers = [world.customer(org, archived=draw(st.booleans()))
                 for _ in range(draw(st.integers(1, 3)))]
    assets = [world.asset(draw(st.sampled_from(customers)))
              for _ in range(draw(st.integers(0, 4)))]
    jobs = []
    for _ in range(draw(st.integers(0, 7))):
        customer = draw(st.sampled_from(customers))
        own_assets = [a for a in assets if world.assets[a].customer_id == customer]
        linked = draw(st.sets(st.sampled_from(own_assets))) if own_assets else set()
        jobs.append(world.job(customer, draw(st.sampled_from(JobStatus)), tuple(linked)))
    staff = [world.staff_member(org, role) for role in Role]
    for _ in range(draw(st.integers(0, 5))):
        customer = draw(st.sampled_from(customers))
        own_jobs = [j for j in jobs if world.jobs[j].customer_id == customer]
        job = draw(st.none() | st.sampled_from(own_jobs)) if own_jobs else None
        captured_by = draw(st.none() | st.sampled_from(staff))
        world.capture(customer, job, captured_by.id if captured_by else None)
    for job in jobs:
        for member in draw(st.sets(st.sampled_from(staff), max_size=2)):
            world.assign(job, member)
    for _ in range(draw(st.integers(0, 1))):
        deactivated = world.deactivate(world.staff_member(org, draw(st.sampled_from(Role))))
        for job in draw(st.sets(st.sampled_from(jobs), max_size=1)) if jobs else ():
            world.assign(job, deactivated)
    for _ in range(draw(st.integers(1, 2))):
        world.external(org, draw(st.sets(st.sampled_from(customers))))
    for _ in range(draw(st.integers(0, 2))):
        world.invitation(org, draw(st.sets(st.sampled_from(customers), min_size=1)),
                         draw(st.sampled_from(InvitationState)))
    for _ in range(draw(st.integers(0, 1))):
        world.audit_event(org)
    return org


@st.composite
def worlds(draw: st.DrawFn) -> World:
    world = World()
    orgs = [draw(organizations(world)) for _ in range(draw(st.integers(2, 3)))]

    def some_customers(org: uuid.UUID) -> set[uuid.UUID]:
        own = [c for c, row in world.customers.items() if row.organization_id == org]
        return draw(st.sets(st.sampled_from(own)))

    # One person, external in two organizations, with grants of their own in each.
    both = world.person()
    world.external(orgs[0], some_customers(orgs[0]), person=both)
    world.external(orgs[1], some_customers(orgs[1]), person=both)
    # A person on the staff of one organization and external in another.
    insider = next(m for m in world.staff.values()
                   if m.organization_id == orgs[-1] and m.role is Role.USER)
    world.external(orgs[0], some_customers(orgs[0]), person=insider.person_id)
    # A person deactivated in one organization and active staff in another: one membership's
    # deactivation says nothing about the other.
    gone = [m for m in world.staff.values() if m.id in world.deactivated
            and m.organization_id != orgs[-1]]
    if gone and draw(st.booleans()):
        world.staff_member(orgs[-1], draw(st.sampled_from(Role)), person=gone[0].person_id)
    return world


@settings(max_examples=EXAMPLES, deadline=None,
          # No explain phase: it replays the failing world dozens of times, seconds each.
          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds())
async def test_every_member_sees_exactly_what_the_visibility_table_allows(
        api, app, sessionmaker, engine, world):
    tokens = await store(sessionmaker, world)
    planned = app.state.executor.compiled.ran
    try:
        problems = []
        for member in world.members:
            check = check_signed_out if member.id in world.deactivated else check_member
            problems += await check(api, world, member, tokens[member.id])
        assert not problems, "\n" + "\n".join(problems)
        # EXECUTION=compiled (the default): the lists were answered by their read plans;
        # EXECUTION=graphql runs the same property on graphql-core alone.
        if app.state.executor.execution == "compiled":
            assert app.state.executor.compiled.ran > planned
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {TABLES} CASCADE"))
