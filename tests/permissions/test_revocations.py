"""Revocations take effect on the very next request, through every path, for a session and for
an API token alike (docs/RULES.md: grants are read on every request)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete

from portal_graph.db import models
from tests.conftest import without_cost
from tests.permissions.paths import check_member
from tests.permissions.world import JobStatus, Member, Role, World, gid, store

CREATE_API_TOKEN = """mutation { createApiToken(input: {name: "council feed"}) {
  token userErrors { code } } }"""
CUSTOMER = "query($id: ID!) { customer(id: $id) { id } }"
NODES = """query($job: ID!, $asset: ID!, $capture: ID!) {
  job: node(id: $job) { id } asset: node(id: $asset) { id } capture: node(id: $capture) { id } }"""
REVOKE_ACCESS = """mutation($user: ID!, $customer: ID!) {
  revokeExternalAccess(input: {externalUserId: $user, customerId: $customer}) {
    userErrors { code } } }"""
REVOKE_ALL = """mutation($user: ID!) { revokeAllExternalAccess(input: {externalUserId: $user}) {
  userErrors { code } } }"""
MY_PORTAL = "{ me { email customerIds } customers { totalCount } }"


class Portal:
    """An organization with two customers, each with a completed job, an asset on it and
    captures with and without the job, and an external user granted both. `credentials`: the
    external user's session and an API token they made; `admin_token`: the admin's session."""

    credentials: dict[str, str]
    admin_token: str

    def __init__(self) -> None:
        self.world = w = World()
        org = w.organization()
        self.c1, self.c2 = w.customer(org), w.customer(org)
        self.a1, a2 = w.asset(self.c1), w.asset(self.c2)
        self.j1 = w.job(self.c1, JobStatus.COMPLETED, (self.a1,))
        j2 = w.job(self.c2, JobStatus.COMPLETED, (a2,))
        self.m1 = w.capture(self.c1, self.j1)
        w.capture(self.c1)
        w.capture(self.c2, j2)
        self.admin = w.staff_member(org, Role.ADMIN)
        self.external: Member = w.external(org, {self.c1, self.c2})


@pytest.fixture
async def portal(sessionmaker: Any, api: Any) -> Portal:
    portal = Portal()
    tokens = await store(sessionmaker, portal.world)
    session = tokens[portal.external.id]
    made = await api(CREATE_API_TOKEN, token=session)
    assert made["data"]["createApiToken"]["userErrors"] == []
    portal.credentials = {"session": session,
                          "api token": made["data"]["createApiToken"]["token"]}
    portal.admin_token = tokens[portal.admin.id]
    return portal


async def remove_grant(sessionmaker: Any, portal: Portal, customer: Any) -> None:
    grants = models.table_of(models.CustomerGrant)
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(grants).where(
            grants.c.external_user_id == portal.external.id, grants.c.customer_id == customer))
    portal.world.grants.discard((portal.external.id, customer))


async def c1_is_visible(api: Any, portal: Portal, token: str) -> bool:
    customer = await api(CUSTOMER, {"id": gid("Customer", portal.c1)}, token=token)
    nodes = await api(NODES, {"job": gid("Job", portal.j1), "asset": gid("Asset", portal.a1),
                              "capture": gid("MapCapture", portal.m1)}, token=token)
    seen = [customer["data"]["customer"], *nodes["data"].values()]
    assert all(v is None for v in seen) or all(v is not None for v in seen), seen
    return seen[0] is not None


@pytest.mark.parametrize("credential", ["session", "api token"])
async def test_a_deleted_grant_hides_that_customer_through_every_path_on_the_next_request(
        api, sessionmaker, portal, credential):
    token = portal.credentials[credential]
    assert await check_member(api, portal.world, portal.external, token) == []
    assert await c1_is_visible(api, portal, token)

    await remove_grant(sessionmaker, portal, portal.c1)

    assert not await c1_is_visible(api, portal, token)
    assert await check_member(api, portal.world, portal.external, token) == []


@pytest.mark.parametrize("credential", ["session", "api token"])
async def test_with_no_grant_left_the_portal_is_empty_and_the_account_remains(
        api, sessionmaker, portal, credential):
    token = portal.credentials[credential]

    await remove_grant(sessionmaker, portal, portal.c1)
    await remove_grant(sessionmaker, portal, portal.c2)

    assert without_cost(await api(MY_PORTAL, token=token)) == {"data": {
        "me": {"email": portal.world.persons[portal.external.person_id], "customerIds": []},
        "customers": {"totalCount": 0}}}
    assert await check_member(api, portal.world, portal.external, token) == []


@pytest.mark.parametrize("credential", ["session", "api token"])
async def test_an_admin_revoking_one_customer_hides_it_on_the_next_request(
        api, portal, credential):
    token = portal.credentials[credential]
    assert await c1_is_visible(api, portal, token)

    revoked = await api(REVOKE_ACCESS, {"user": gid("ExternalUser", portal.external.id),
                                        "customer": gid("Customer", portal.c1)},
                        token=portal.admin_token)
    assert revoked["data"]["revokeExternalAccess"]["userErrors"] == []
    portal.world.grants.discard((portal.external.id, portal.c1))

    assert not await c1_is_visible(api, portal, token)
    assert await check_member(api, portal.world, portal.external, token) == []


@pytest.mark.parametrize("credential", ["session", "api token"])
async def test_revoking_all_access_signs_the_credential_out_on_the_next_request(
        api, portal, credential):
    token = portal.credentials[credential]

    revoked = await api(REVOKE_ALL, {"user": gid("ExternalUser", portal.external.id)},
                        token=portal.admin_token)
    assert revoked["data"]["revokeAllExternalAccess"]["userErrors"] == []

    for document in ("{ me { email } }", "{ customers { totalCount } }"):
        refused = await api(document, token=token)
        assert api.response.status_code == 401
        assert api.response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert refused.get("data") is None
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["UNAUTHENTICATED"]
