"""Property: in any history, applying the change feed gives exactly what the viewer sees now.

Histories are drawn by hypothesis: customers, assets, jobs of every status linked to assets,
map captures with and without jobs, status changes (into and out of COMPLETED), grants given
and revoked, customers archived and brought back, links added, and deletions of jobs,
captures and assets (by SQL, with its cascades). The changes are made by SQL straight into
the database, so the positions come from the triggers alone. Between steps, an external
user's and a staff member's partner clients page the feed on from their stored cursors
(pages of 1-4) and apply it; at the end both clients, and a fresh client paging from the
start, must hold exactly the viewer's visible set (an oracle computed here, in Python, from
the visibility table). Every tombstone an external user is given names an object that user
could see at some earlier step.

FEED_EXAMPLES sets the number of histories (default 100).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, text, update

from portal_graph.db import models
from portal_graph.graphql.core.relay import from_global_id
from tests.conftest import TABLES
from tests.factories import unique

EXAMPLES = int(os.environ.get("FEED_EXAMPLES", "100"))
STATUSES = list(models.JobStatus)
COMPLETED = models.JobStatus.COMPLETED

CHANGES = """query Feed($after: String, $first: Int) {
  changes(after: $after, first: $first) {
    edges { cursor node { nodeId removed node { id } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


@dataclass
class Model:
    """The world as the oracle knows it."""

    customers: list[uuid.UUID] = field(default_factory=list)
    jobs: dict[uuid.UUID, tuple[uuid.UUID, models.JobStatus]] = field(default_factory=dict)
    assets: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    links: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)  # (job, asset)
    captures: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID | None]] = field(default_factory=dict)
    grants: set[uuid.UUID] = field(default_factory=set)
    archived: set[uuid.UUID] = field(default_factory=set)

    def everything(self) -> set[tuple[str, uuid.UUID]]:
        return ({("Customer", c) for c in self.customers} | {("Job", j) for j in self.jobs}
                | {("Asset", a) for a in self.assets}
                | {("MapCapture", m) for m in self.captures})

    def external_view(self) -> set[tuple[str, uuid.UUID]]:
        granted = self.grants - self.archived  # an archived customer leaves external portals
        done = {j for j, (c, s) in self.jobs.items() if c in granted and s is COMPLETED}
        return ({("Customer", c) for c in self.customers if c in granted}
                | {("Job", j) for j in done}
                | {("Asset", a) for a, c in self.assets.items()
                   if c in granted and any((j, a) in self.links for j in done)}
                | {("MapCapture", m) for m, (c, j) in self.captures.items()
                   if c in granted and (j is None or j in done)})


class Client:
    """A partner's copy: the objects it was told of, and its stored cursor."""

    def __init__(self, api, token: str, page_size: int) -> None:  # type: ignore[no-untyped-def]
        self.api, self.token, self.page_size = api, token, page_size
        self.cursor: str | None = None
        self.held: set[tuple[str, uuid.UUID]] = set()
        self.removed_ever: set[tuple[str, uuid.UUID]] = set()

    async def sync(self) -> None:
        for _ in range(1000):
            body = await self.api(CHANGES, {"after": self.cursor, "first": self.page_size},
                                  token=self.token)
            assert "errors" not in body, body
            feed = body["data"]["changes"]
            for edge in feed["edges"]:
                change = edge["node"]
                key = from_global_id(change["nodeId"])
                assert key is not None
                if change["removed"]:
                    assert change["node"] is None
                    self.held.discard(key)
                    self.removed_ever.add(key)
                else:
                    assert change["node"]["id"] == change["nodeId"]
                    self.held.add(key)
            if feed["pageInfo"]["endCursor"] is not None:
                self.cursor = feed["pageInfo"]["endCursor"]
            if not feed["pageInfo"]["hasNextPage"]:
                return
        raise AssertionError("the feed never ended")


# --- histories -----------------------------------------------------------------------------

index = st.integers(0, 50)
steps = st.lists(st.one_of(
    st.tuples(st.just("customer")),
    st.tuples(st.just("job"), index, st.sampled_from(STATUSES)),
    st.tuples(st.just("asset"), index),
    st.tuples(st.just("link"), index, index),
    st.tuples(st.just("capture"), index, index, st.booleans()),
    st.tuples(st.just("status"), index, st.sampled_from(STATUSES)),
    st.tuples(st.just("grant"), index),
    st.tuples(st.just("revoke"), index),
    st.tuples(st.just("archive"), index, st.booleans()),
    st.tuples(st.just("delete_job"), index),
    st.tuples(st.just("delete_capture"), index),
    st.tuples(st.just("delete_asset"), index),
    st.tuples(st.just("sync")),
), min_size=1, max_size=30)


def _pick(items, i):  # type: ignore[no-untyped-def]
    items = list(items)
    return items[i % len(items)] if items else None


async def _apply(session, org: uuid.UUID, member: uuid.UUID, model: Model, step) -> None:  # type: ignore[no-untyped-def]
    kind = step[0]
    if kind == "customer":
        customer = models.new_id()
        await session.execute(insert(models.Customer).values(
            organization_id=org, id=customer, name=unique("Customer ")))
        model.customers.append(customer)
    elif kind == "job" and model.customers:
        customer, job = _pick(model.customers, step[1]), models.new_id()
        await session.execute(insert(models.Job).values(
            organization_id=org, id=job, customer_id=customer, reference=unique("J-"),
            title="Work", status=step[2]))
        model.jobs[job] = (customer, step[2])
    elif kind == "asset" and model.customers:
        customer, asset = _pick(model.customers, step[1]), models.new_id()
        await session.execute(insert(models.Asset).values(
            organization_id=org, id=asset, customer_id=customer, name=unique("Asset ")))
        model.assets[asset] = customer
    elif kind == "link" and model.jobs and model.assets:
        job, asset = _pick(model.jobs, step[1]), _pick(model.assets, step[2])
        if model.jobs[job][0] == model.assets[asset] and (job, asset) not in model.links:
            await session.execute(insert(models.JobAsset).values(
                organization_id=org, job_id=job, asset_id=asset))
            model.links.add((job, asset))
    elif kind == "capture" and model.customers:
        customer = _pick(model.customers, step[1])
        own = [j for j, (c, _) in model.jobs.items() if c == customer]
        job = _pick(own, step[2]) if step[3] and own else None
        capture = models.new_id()
        await session.execute(insert(models.MapCapture).values(
            organization_id=org, id=capture, customer_id=customer, job_id=job,
            latitude=1.0, longitude=2.0))
        model.captures[capture] = (customer, job)
    elif kind == "status" and model.jobs:
        job = _pick(model.jobs, step[1])
        await session.execute(update(models.Job).where(
            models.Job.organization_id == org, models.Job.id == job).values(status=step[2]))
        model.jobs[job] = (model.jobs[job][0], step[2])
    elif kind == "grant" and model.customers:
        customer = _pick(model.customers, step[1])
        if customer not in model.grants:
            await session.execute(insert(models.CustomerGrant).values(
                organization_id=org, external_user_id=member, customer_id=customer))
            model.grants.add(customer)
    elif kind == "revoke" and model.grants:
        customer = _pick(sorted(model.grants), step[1])
        await session.execute(delete(models.CustomerGrant).where(
            models.CustomerGrant.organization_id == org,
            models.CustomerGrant.external_user_id == member,
            models.CustomerGrant.customer_id == customer))
        model.grants.discard(customer)
    elif kind == "archive" and model.customers:
        customer, archived = _pick(model.customers, step[1]), step[2]
        await session.execute(update(models.Customer).where(
            models.Customer.organization_id == org, models.Customer.id == customer)
            .values(archived_at=func.now() if archived else None))
        (model.archived.add if archived else model.archived.discard)(customer)
    elif kind == "delete_job" and model.jobs:
        job = _pick(model.jobs, step[1])
        await session.execute(delete(models.Job).where(
            models.Job.organization_id == org, models.Job.id == job))
        del model.jobs[job]
        model.links = {(j, a) for j, a in model.links if j != job}
        model.captures = {m: (c, None if j == job else j) for m, (c, j) in model.captures.items()}
    elif kind == "delete_capture" and model.captures:
        capture = _pick(model.captures, step[1])
        await session.execute(delete(models.MapCapture).where(
            models.MapCapture.organization_id == org, models.MapCapture.id == capture))
        del model.captures[capture]
    elif kind == "delete_asset" and model.assets:
        asset = _pick(model.assets, step[1])
        await session.execute(delete(models.Asset).where(
            models.Asset.organization_id == org, models.Asset.id == asset))
        del model.assets[asset]
        model.links = {(j, a) for j, a in model.links if a != asset}


@settings(max_examples=EXAMPLES, deadline=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=steps, page_sizes=st.tuples(st.integers(1, 4), st.integers(1, 4)))
async def test_applying_the_feed_gives_exactly_the_viewers_current_view(
        api, make, sessionmaker, engine, history, page_sizes):
    try:
        org = await make.organization()
        other_org = await make.organization()  # a neighbour whose rows never show
        await make.job(other_org, await make.customer(other_org))
        partner = await make.external(org, [])
        admin = await make.staff(org)
        partner_client = Client(api, await make.session_token(org, partner["person"]["id"]),
                                page_sizes[0])
        staff_client = Client(api, await make.session_token(org, admin["person"]["id"]),
                              page_sizes[1])
        model, ever_seen = Model(), set()
        for step in history:
            if step[0] == "sync":
                await partner_client.sync()
                await staff_client.sync()
                assert partner_client.held == model.external_view()
                assert staff_client.held == model.everything()
                continue
            async with sessionmaker() as session, session.begin():
                await _apply(session, org, partner["id"], model, step)
            ever_seen |= model.external_view()

        await partner_client.sync()
        await staff_client.sync()
        fresh_partner = Client(api, partner_client.token, 3)
        await fresh_partner.sync()
        fresh_staff = Client(api, staff_client.token, 100)
        await fresh_staff.sync()

        assert partner_client.held == model.external_view()
        assert fresh_partner.held == model.external_view()
        assert staff_client.held == model.everything()
        assert fresh_staff.held == model.everything()
        assert fresh_partner.removed_ever == set()  # from the start, nothing to take back
        assert partner_client.removed_ever <= ever_seen
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {TABLES} CASCADE"))
