"""Read replicas on a real streaming standby (tests/topology.py StandbyPair): read-only requests
go to the standby once it has replayed the caller's last write; the caller is always looked up
on the primary, so a revocation holds at once; a lagging or stopped standby is skipped.

The standby's replay is paused (`pg_wal_replay_pause()`) to make it lag on purpose. The replica
monitor is driven by hand (`check()`), so each test knows what the app knows.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from portal_graph.config import Settings
from portal_graph.db import models
from portal_graph.db.engine import asyncpg_url
from portal_graph.db.migrate import upgrade
from tests.conftest import Api, without_cost
from tests.factories import Factory
from tests.invitations.support import INVITATIONS, INVITE, REVOKE_ALL, gid, only
from tests.topology import StandbyPair, with_user

pytestmark = pytest.mark.slow

JOBS = "{ jobs { totalCount } }"


@pytest.fixture(scope="module")
def pair() -> Iterator[StandbyPair]:
    pair = StandbyPair.create()
    try:
        yield pair
    finally:
        pair.destroy()


@dataclass
class Topology:
    pair: StandbyPair
    runtime: Any
    api: Api
    make: Factory
    owner_url: str

    async def standby(self, sql: str) -> Any:
        conn = await asyncpg.connect(self.pair.standby.url("portal"))
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    async def pause_replay(self) -> None:
        await self.standby("SELECT pg_wal_replay_pause()")
        for _ in range(100):
            if await self.standby("SELECT pg_get_wal_replay_pause_state()") == "paused":
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the standby did not pause")

    async def resume_replay(self) -> None:
        await self.standby("SELECT pg_wal_replay_resume()")
        await self.caught_up()

    async def caught_up(self) -> None:
        """Until the app's monitor has seen the standby replay everything written so far."""
        primary = await asyncpg.connect(self.pair.primary.url("portal"))
        try:
            target = await primary.fetchval(
                "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint")
        finally:
            await primary.close()
        replica = self.runtime.replicas.replicas[0]
        for _ in range(200):
            await self.runtime.replicas.check()
            if replica.state == "up" and (replica.replayed or 0) >= target:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the standby did not catch up: {replica}")


def served(target: str) -> float:
    return REGISTRY.get_sample_value("portal_graph_db_reads_total", {"target": target}) or 0.0


def skipped(reason: str) -> float:
    return REGISTRY.get_sample_value("portal_graph_db_replica_skipped_total",
                                     {"replica": "replica0", "reason": reason}) or 0.0


class Served:
    """Where the requests inside the block ran, from the app's own counters."""

    def __enter__(self) -> Served:
        self.before = (served("replica"), served("primary"))
        return self

    def __exit__(self, *exc: object) -> None:
        self.replica = served("replica") - self.before[0]
        self.primary = served("primary") - self.before[1]


@pytest.fixture(scope="module")
async def topology(pair: StandbyPair, settings: Settings) -> AsyncIterator[Topology]:
    from portal_graph.app import create_app
    from portal_graph.runtime import Runtime

    password = secrets.token_urlsafe(12)
    admin = await asyncpg.connect(pair.primary.url())
    try:
        await admin.execute(f"CREATE ROLE portal LOGIN NOSUPERUSER NOBYPASSRLS "
                            f"PASSWORD '{password}'")
        await admin.execute("CREATE DATABASE portal OWNER portal")
    finally:
        await admin.close()
    owner_url = with_user(pair.primary.url("portal"), "portal", password)
    await asyncio.to_thread(upgrade, owner_url)
    tuned = settings.model_copy(update={
        "database_url": owner_url, "database_direct_url": None, "db_pgbouncer": False,
        "database_read_urls": with_user(pair.standby.url("portal"), "portal", password)})
    runtime = Runtime.create(tuned, owner_url)
    engine = create_async_engine(asyncpg_url(pair.primary.url("portal")))
    transport = httpx.ASGITransport(app=create_app(tuned, runtime),
                                    client=("203.0.113.11", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
        topology = Topology(pair, runtime, Api(client),
                            Factory(async_sessionmaker(engine, expire_on_commit=False)),
                            owner_url)
        await topology.caught_up()
        yield topology
    await runtime.close()
    await engine.dispose()


@dataclass
class World:
    org: Any
    admin: str
    staff: str
    external: str
    external_id: Any


async def world(topology: Topology) -> World:
    make = topology.make
    org = await make.organization()
    admin = await make.staff(org)
    staff = await make.staff(org, role=models.Role.USER)
    customer = await make.customer(org)
    await make.job(org, customer)
    external = await make.external(org, [customer])
    made = World(org, await make.session_token(org, admin["person"]["id"]),
                 await make.session_token(org, staff["person"]["id"]),
                 await make.session_token(org, external["person"]["id"]), external["id"])
    await topology.caught_up()
    return made


async def test_a_read_only_request_runs_on_the_replica_and_a_mutation_on_the_primary(
    topology: Topology,
) -> None:
    people = await world(topology)
    with Served() as reads:
        body = await topology.api(JOBS, token=people.staff)
    assert without_cost(body) == {"data": {"jobs": {"totalCount": 1}}}
    assert (reads.replica, reads.primary) == (1, 0)

    with Served() as writes:
        created = await topology.api('mutation { createCustomer(input: {name: "On primary"}) '
                                     "{ userErrors { code } } }", token=people.admin)
    assert created["data"]["createCustomer"]["userErrors"] == []
    assert (writes.replica, writes.primary) == (0, 0)  # a mutation is never a routed read


async def test_after_an_invite_the_inviter_reads_it_from_the_primary_until_the_replica_has_it(
    topology: Topology,
) -> None:
    people = await world(topology)
    customer = (await topology.api("{ customers { edges { node { id } } } }",
                                   token=people.admin))["data"]["customers"]["edges"][0]
    await topology.pause_replay()
    try:
        invited = only(await topology.api(INVITE, {"input": {
            "email": "fresh@replica.example", "customerIds": [customer["node"]["id"]]}},
            token=people.admin))
        assert invited["userErrors"] == []
        await topology.runtime.replicas.check()
        behind = skipped("behind_session")
        with Served() as reads:
            listed = only(await topology.api(INVITATIONS, {"status": "PENDING"},
                                             token=people.admin))
            others = await topology.api(JOBS, token=people.staff)  # wrote nothing: replica
        assert [e["node"]["email"] for e in listed["edges"]] == ["fresh@replica.example"]
        assert (reads.replica, reads.primary) == (1, 1)
        assert skipped("behind_session") == behind + 1
        assert without_cost(others) == {"data": {"jobs": {"totalCount": 1}}}
        assert await topology.standby(
            "SELECT count(*) FROM invitations WHERE email = 'fresh@replica.example'") == 0
    finally:
        await topology.resume_replay()
    with Served() as later:
        listed = only(await topology.api(INVITATIONS, {"status": "PENDING"}, token=people.admin))
    assert [e["node"]["email"] for e in listed["edges"]] == ["fresh@replica.example"]
    assert (later.replica, later.primary) == (1, 0)  # replayed: the replica serves it again


async def test_a_revoked_user_is_refused_at_once_though_the_replica_still_has_the_grants(
    topology: Topology,
) -> None:
    people = await world(topology)
    assert without_cost(await topology.api(JOBS, token=people.external)) == {"data": {"jobs": {
        "totalCount": 1}}}
    await topology.pause_replay()
    try:
        only(await topology.api(REVOKE_ALL, {"user": gid("ExternalUser", people.external_id)},
                                token=people.admin))
        await topology.runtime.replicas.check()
        response = await topology.api.client.post(
            "/graphql", json={"query": JOBS},
            headers={"Authorization": f"Bearer {people.external}"})
        assert response.status_code == 401
        # What a lagging replica would have answered: the user still has access there.
        assert await topology.standby(
            f"SELECT count(*) FROM external_users WHERE id = '{people.external_id}' "
            "AND access_revoked_at IS NULL") == 1
        users = await topology.api("{ externalUsers { edges { node { status } } } }",
                                   token=people.admin)
        assert [e["node"]["status"] for e in users["data"]["externalUsers"]["edges"]] == [
            "REVOKED"]
    finally:
        await topology.resume_replay()


async def test_a_replica_further_behind_than_the_bound_is_skipped_with_a_metric_and_a_log_line(
    topology: Topology, caplog: pytest.LogCaptureFixture,
) -> None:
    people = await world(topology)
    replicas = topology.runtime.replicas
    bound = replicas.settings
    replicas.settings = bound.model_copy(update={"db_replica_max_lag_bytes": 1024})
    await topology.pause_replay()
    try:
        org = await topology.make.organization()
        for _ in range(20):  # someone else's writes: WAL the paused standby does not replay
            await topology.make.customer(org, name="x" * 200)
        with caplog.at_level(logging.WARNING, logger="portal_graph.replicas"):
            await replicas.check()
        assert "read replica replica0 skipped:" in caplog.text
        assert "bytes of WAL behind the primary" in caplog.text
        lagging = skipped("lagging")
        with Served() as reads:
            body = await topology.api(JOBS, token=people.staff)
        assert without_cost(body) == {"data": {"jobs": {"totalCount": 1}}}
        assert (reads.replica, reads.primary) == (0, 1)
        assert skipped("lagging") == lagging + 1
    finally:
        replicas.settings = bound
        await topology.resume_replay()


async def test_a_replica_that_goes_down_is_skipped_and_the_primary_answers(
    topology: Topology, caplog: pytest.LogCaptureFixture,
) -> None:
    """Last in the module: the standby stays down."""
    people = await world(topology)
    await asyncio.to_thread(topology.pair.standby.stop)
    with caplog.at_level(logging.WARNING, logger="portal_graph.replicas"):
        # The monitor has not noticed yet: the request tries the replica, which fails under
        # it, and the primary answers instead.
        body = await topology.api(JOBS, token=people.staff)
        assert without_cost(body) == {"data": {"jobs": {"totalCount": 1}}}
        assert "read replica replica0 skipped: down" in caplog.text
        await topology.runtime.replicas.check()
    down = skipped("down")
    with Served() as reads:
        body = await topology.api(JOBS, token=people.staff)
    assert without_cost(body) == {"data": {"jobs": {"totalCount": 1}}}
    assert (reads.replica, reads.primary) == (0, 1)
    assert skipped("down") == down + 1
