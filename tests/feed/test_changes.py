"""The change feed's rules, one at a time (the property test covers random histories)."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy import select, text, update

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id

CHANGES = """query Feed($after: String, $first: Int) {
  changes(after: $after, first: $first) {
    edges { cursor node { nodeId removed node { id ... on Job { status } } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def _feed(api, token, after=None, first=100):  # type: ignore[no-untyped-def]
    body = await api(CHANGES, {"after": after, "first": first}, token=token)
    assert "errors" not in body, body
    return body["data"]["changes"]


def _ids(feed) -> list[tuple[str, bool]]:  # type: ignore[no-untyped-def]
    return [(edge["node"]["nodeId"], edge["node"]["removed"]) for edge in feed["edges"]]


async def test_the_database_sets_the_position_on_insert_and_on_every_update(make, sessionmaker):
    org = await make.organization()
    customer = await make.customer(org)
    job = await make.job(org, customer, status=models.JobStatus.SCHEDULED)
    async with sessionmaker() as session, session.begin():
        created = await session.scalar(select(models.Job.change_position)
                                       .where(models.Job.id == job))
        # Even code that tries to set it gets the trigger's value.
        await session.execute(update(models.Job).where(models.Job.id == job)
                              .values(title="Renamed", change_position=1))
        updated = await session.scalar(select(models.Job.change_position)
                                       .where(models.Job.id == job))
    assert updated > created > 1


async def test_an_external_user_is_told_of_completed_work_of_their_customers_only(make, api):
    org = await make.organization()
    granted, other = await make.customer(org), await make.customer(org)
    done = await make.job(org, granted)
    await make.job(org, granted, status=models.JobStatus.IN_PROGRESS)
    await make.job(org, other)
    neighbour = await make.organization()
    await make.job(neighbour, await make.customer(neighbour))
    partner = await make.external(org, [granted])
    token = await make.session_token(org, partner["person"]["id"])

    feed = await _feed(api, token)

    assert _ids(feed) == [(to_global_id("Customer", granted), False),
                          (to_global_id("Job", done), False)]
    assert feed["pageInfo"] == {"hasNextPage": False, "endCursor": feed["edges"][-1]["cursor"]}


async def test_a_job_leaving_completed_is_a_tombstone_and_coming_back_a_change(
        make, api, sessionmaker):
    org = await make.organization()
    customer = await make.customer(org)
    job = await make.job(org, customer)
    partner = await make.external(org, [customer])
    token = await make.session_token(org, partner["person"]["id"])
    cursor = (await _feed(api, token))["pageInfo"]["endCursor"]

    async with sessionmaker() as session, session.begin():
        await session.execute(update(models.Job).where(models.Job.id == job)
                              .values(status=models.JobStatus.IN_PROGRESS))
    left = await _feed(api, token, cursor)
    async with sessionmaker() as session, session.begin():
        await session.execute(update(models.Job).where(models.Job.id == job)
                              .values(status=models.JobStatus.COMPLETED))
    back = await _feed(api, token, left["pageInfo"]["endCursor"])

    assert _ids(left) == [(to_global_id("Job", job), True)]
    assert _ids(back) == [(to_global_id("Job", job), False)]


async def test_a_revoked_grant_takes_back_what_it_showed_and_nothing_else(
        make, api, sessionmaker):
    org = await make.organization()
    customer = await make.customer(org)
    done = await make.job(org, customer)
    await make.job(org, customer, status=models.JobStatus.SCHEDULED)  # never seen
    partner = await make.external(org, [customer])
    token = await make.session_token(org, partner["person"]["id"])
    cursor = (await _feed(api, token))["pageInfo"]["endCursor"]

    async with sessionmaker() as session, session.begin():
        await session.execute(text("DELETE FROM customer_grants WHERE external_user_id = :u"),
                              {"u": partner["id"]})
    feed = await _feed(api, token, cursor)

    assert sorted(_ids(feed)) == sorted([(to_global_id("Customer", customer), True),
                                         (to_global_id("Job", done), True)])


async def test_a_deleted_row_is_a_tombstone_for_staff(make, api, sessionmaker):
    org = await make.organization()
    customer = await make.customer(org)
    capture = await make.capture(org, customer)
    admin = await make.staff(org)
    token = await make.session_token(org, admin["person"]["id"])
    cursor = (await _feed(api, token))["pageInfo"]["endCursor"]

    async with sessionmaker() as session, session.begin():
        await session.execute(text("DELETE FROM map_captures WHERE id = :id"), {"id": capture})

    assert _ids(await _feed(api, token, cursor)) == [(to_global_id("MapCapture", capture), True)]


async def test_pages_follow_each_other_without_gaps(make, api):
    org = await make.organization()
    customer = await make.customer(org)
    jobs = [await make.job(org, customer) for _ in range(5)]
    admin = await make.staff(org)
    token = await make.session_token(org, admin["person"]["id"])

    seen, cursor, more = [], None, True
    while more:
        feed = await _feed(api, token, cursor, first=2)
        seen += [node_id for node_id, _ in _ids(feed)]
        cursor, more = feed["pageInfo"]["endCursor"], feed["pageInfo"]["hasNextPage"]

    assert seen == [to_global_id("Customer", customer), *(to_global_id("Job", j) for j in jobs)]
    assert (await _feed(api, token, cursor))["edges"] == []


async def test_a_cursor_that_is_not_ours_is_bad_user_input(make, api):
    org = await make.organization()
    admin = await make.staff(org)
    token = await make.session_token(org, admin["person"]["id"])

    body = await api(CHANGES, {"after": "bm90IGEgY3Vyc29y"}, token=token)

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_positions_of_one_organization_commit_in_the_order_they_were_taken(
        make, test_database):
    """A writer holds its organization's feed lock until it commits, so a reader can never see
    position n+1 committed while n is still to come (and skip n with its stored cursor)."""
    org = await make.organization()
    customer = await make.customer(org)
    first = await asyncpg.connect(test_database.admin_url)
    second = await asyncpg.connect(test_database.admin_url)
    try:
        transaction = first.transaction()
        await transaction.start()
        taken = await first.fetchval(
            "UPDATE customers SET name = 'one' WHERE id = $1 RETURNING change_position", customer)
        waiting = asyncio.ensure_future(second.fetchval(
            "INSERT INTO customers (organization_id, id, name) VALUES ($1, gen_random_uuid(), "
            "'two') RETURNING change_position", org))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # blocked by the first writer's lock
        await transaction.commit()
        assert await waiting > taken
    finally:
        await first.close()
        await second.close()


async def test_every_feed_table_has_its_organizations_index(sessionmaker):
    async with sessionmaker() as session:
        indexes = set((await session.execute(text(
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%change_position'"))).scalars())
    assert indexes == {f"ix_{t}_org_change_position"
                       for t in ("customers", "jobs", "map_captures", "assets")}

