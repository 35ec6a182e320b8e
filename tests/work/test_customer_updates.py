"""Correcting and archiving customers. An archived customer disappears from its external users'
portals at their next request (with its jobs, captures and assets), cannot be invited to or
granted, and stays, with its history and grants, for staff."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id
from tests.work.test_updates import audit_of, codes, events_of, payload_of

UPDATE = """mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
  customer { name updatedAt archivedAt } userErrors { code field } } }"""
ARCHIVE = """mutation($input: ArchiveCustomerInput!) { archiveCustomer(input: $input) {
  customer { name archivedAt updatedAt } userErrors { code field } } }"""
PORTAL = """{ customers { edges { node { id } } } jobs { totalCount } mapCaptures { totalCount }
}"""
NODE = "query($id: ID!) { node(id: $id) { id } }"
STAFF_VIEW = "query($id: ID!) { customer(id: $id) { name archivedAt jobs { totalCount } } }"
INVITE = """mutation($input: InviteExternalUserInput!) { inviteExternalUser(input: $input) {
  inviteUrl userErrors { code field } } }"""
SET_CUSTOMERS = """mutation($input: SetExternalUserCustomersInput!) {
  setExternalUserCustomers(input: $input) { externalUser { id } userErrors { code field } } }"""


@pytest.fixture
async def world(make) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    org = await make.organization()
    admin = await make.staff(org)
    user = await make.staff(org, role=models.Role.USER)
    archived, kept = await make.customer(org, name="Old Works"), await make.customer(org)
    asset = await make.asset(org, archived)
    job = await make.job(org, archived, asset_ids=[asset])
    capture = await make.capture(org, archived, job)
    external = await make.external(org, [archived, kept])
    return {
        "org": org, "admin": await make.session_token(org, admin["person"]["id"]),
        "user": await make.session_token(org, user["person"]["id"]),
        "external": await make.session_token(org, external["person"]["id"]),
        "external_id": to_global_id("ExternalUser", external["id"]),
        "archived": to_global_id("Customer", archived), "kept": to_global_id("Customer", kept),
        "archived_db_id": archived,
        "hidden": [to_global_id("Customer", archived), to_global_id("Job", job),
                   to_global_id("Asset", asset), to_global_id("MapCapture", capture)],
    }


async def archive(api, world, **extra):  # type: ignore[no-untyped-def]
    return await api(ARCHIVE, {"input": {"customerId": world["archived"], **extra}},
                     token=world["admin"])


async def test_update_customer_renames_audits_and_publishes(api, world, sessionmaker):
    result = payload_of(await api(UPDATE, {"input": {"customerId": world["kept"],
                                                     "name": " Kept   Works "}},
                                  token=world["user"]))

    assert result["userErrors"] == []
    assert result["customer"]["name"] == "Kept Works"
    assert await events_of(sessionmaker, world["org"]) == [("customer.updated", "Customer")]
    assert [a for a, _ in await audit_of(sessionmaker, world["org"])] == ["CUSTOMER_UPDATED"]


@pytest.mark.parametrize(("change", "expected"), [
    ({"name": ""}, [("INVALID_INPUT", ["input", "name"])]),
    ({"name": None}, [("INVALID_INPUT", ["input", "name"])]),
    ({"name": "n" * 201}, [("INVALID_INPUT", ["input", "name"])]),
    ({"customerId": to_global_id("Customer", uuid.uuid4()), "name": "X"},
     [("NOT_FOUND", ["input", "customerId"])]),
    ({"customerId": "garbage", "name": "X"}, [("NOT_FOUND", ["input", "customerId"])]),
])
async def test_update_customer_rejects_what_create_customer_rejects(api, world, change,
                                                                     expected):
    result = await api(UPDATE, {"input": {"customerId": world["kept"], **change}},
                       token=world["user"])

    assert codes(result) == expected


async def test_update_customer_refuses_a_stale_version(api, world):
    read = payload_of(await api(UPDATE, {"input": {"customerId": world["kept"], "name": "A"}},
                                token=world["user"]))["customer"]["updatedAt"]
    await api(UPDATE, {"input": {"customerId": world["kept"], "name": "B"}}, token=world["user"])

    result = await api(UPDATE, {"input": {"customerId": world["kept"], "name": "C",
                                          "expectedUpdatedAt": read}}, token=world["user"])

    assert codes(result) == [("STALE_OBJECT", ["input", "expectedUpdatedAt"])]


async def test_an_archived_customer_and_its_work_leave_the_external_portal(api, world):
    before = (await api(PORTAL, token=world["external"]))["data"]
    assert len(before["customers"]["edges"]) == 2
    assert before["jobs"]["totalCount"] == before["mapCaptures"]["totalCount"] == 1

    result = payload_of(await archive(api, world))

    assert result["userErrors"] == [] and result["customer"]["archivedAt"] is not None
    after = (await api(PORTAL, token=world["external"]))["data"]
    assert after["customers"]["edges"] == [{"node": {"id": world["kept"]}}]
    assert after["jobs"]["totalCount"] == after["mapCaptures"]["totalCount"] == 0
    for hidden in world["hidden"]:
        assert (await api(NODE, {"id": hidden}, token=world["external"]))["data"]["node"] is None


async def test_staff_keep_an_archived_customer_its_history_and_its_grants(
        api, world, sessionmaker):
    await archive(api, world)

    view = (await api(STAFF_VIEW, {"id": world["archived"]}, token=world["user"]))["data"]
    grants = models.table_of(models.CustomerGrant)
    async with sessionmaker() as session:
        kept_grants = await session.scalar(select(func.count()).select_from(grants).where(
            grants.c.customer_id == world["archived_db_id"]))

    assert view["customer"]["name"] == "Old Works"
    assert view["customer"]["archivedAt"] is not None
    assert view["customer"]["jobs"]["totalCount"] == 1
    assert kept_grants == 1
    for hidden in world["hidden"]:
        assert (await api(NODE, {"id": hidden}, token=world["user"]))["data"]["node"] is not None


async def test_an_archived_customer_cannot_be_invited_to_or_granted(api, world):
    await archive(api, world)

    invite = await api(INVITE, {"input": {"email": "new@client.example",
                                          "customerIds": [world["kept"], world["archived"]]}},
                       token=world["admin"])
    grant = await api(SET_CUSTOMERS, {"input": {"externalUserId": world["external_id"],
                                                "customerIds": [world["archived"]]}},
                      token=world["admin"])

    assert codes(invite) == [("CUSTOMER_ARCHIVED", ["input", "customerIds"])]
    assert codes(grant) == [("CUSTOMER_ARCHIVED", ["input", "customerIds"])]


async def test_archiving_is_audited_published_once_and_idempotent(api, world, sessionmaker):
    first = payload_of(await archive(api, world))
    second = payload_of(await archive(api, world))

    assert second["userErrors"] == []
    assert second["customer"]["archivedAt"] == first["customer"]["archivedAt"]
    assert [a for a, _ in await audit_of(sessionmaker, world["org"])] == ["CUSTOMER_ARCHIVED"]
    assert await events_of(sessionmaker, world["org"]) == [("customer.updated", "Customer")]


async def test_archiving_refuses_a_stale_version(api, world):
    read = (await api("query($id: ID!) { customer(id: $id) { updatedAt } }",
                      {"id": world["archived"]}, token=world["admin"]))["data"]["customer"][
                          "updatedAt"]
    await api(UPDATE, {"input": {"customerId": world["archived"], "name": "Renamed"}},
              token=world["admin"])

    result = await archive(api, world, expectedUpdatedAt=read)

    assert codes(result) == [("STALE_OBJECT", ["input", "expectedUpdatedAt"])]
    assert payload_of(result)["customer"] is None
