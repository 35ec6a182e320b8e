"""Staff correct what they entered: jobs, assets, map captures (updated, or a capture deleted).

Omitted fields stay, null clears, every value is validated as on creation (userErrors), a
client holding an old `updatedAt` is told STALE_OBJECT and nothing is written, changes external
users can see are audited, and every change is a domain event in the same transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id

UPDATE_JOB = """mutation($input: UpdateJobInput!) { updateJob(input: $input) {
  job { id title scheduledFor internalNotes price updatedAt assignedStaff { email } }
  userErrors { code field message } } }"""
UPDATE_ASSET = """mutation($input: UpdateAssetInput!) { updateAsset(input: $input) {
  asset { name kind serialNumber location updatedAt } userErrors { code field } } }"""
UPDATE_CAPTURE = """mutation($input: UpdateMapCaptureInput!) { updateMapCapture(input: $input) {
  mapCapture { latitude longitude note geometry job { id } updatedAt }
  userErrors { code field } } }"""
DELETE_CAPTURE = """mutation($input: DeleteMapCaptureInput!) { deleteMapCapture(input: $input) {
  deletedMapCaptureId userErrors { code field } } }"""
SET_STATUS = """mutation($id: ID!, $status: JobStatus!) {
  setJobStatus(input: {jobId: $id, status: $status}) { job { status } userErrors { code } } }"""
NODE_UPDATED_AT = """query($id: ID!) { node(id: $id) {
  ... on Job { updatedAt } ... on Asset { updatedAt } ... on MapCapture { updatedAt } } }"""
NODE = "query($id: ID!) { node(id: $id) { id } }"


@dataclass
class Shop:
    org: uuid.UUID
    token: str
    customer: uuid.UUID
    other_customer: uuid.UUID
    job: str
    asset: str
    capture: str
    tech: dict[str, Any]
    admin_person: uuid.UUID


@pytest.fixture
async def shop(make) -> Shop:  # type: ignore[no-untyped-def]
    org = await make.organization()
    admin = await make.staff(org, role=models.Role.ADMIN)
    tech = await make.staff(org, role=models.Role.USER,
                            email=f"tech-{uuid.uuid4().hex[:6]}@x.example")
    customer = await make.customer(org, name="Riverside Council")
    other = await make.customer(org, name="Harbour Works")
    job = await make.job(org, customer, models.JobStatus.SCHEDULED, title="Mow the verges")
    asset = await make.asset(org, customer, name="Pump", kind="Pump")
    capture = await make.capture(org, customer, job, note="Gate")
    return Shop(org=org, token=await make.session_token(org, admin["person"]["id"]),
                customer=customer, other_customer=other, job=to_global_id("Job", job),
                asset=to_global_id("Asset", asset), capture=to_global_id("MapCapture", capture),
                tech=tech, admin_person=admin["person"]["id"])


def payload_of(result: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in result, result
    return next(iter(result["data"].values()))  # type: ignore[no-any-return]


def codes(result: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload_of(result)["userErrors"]]


async def updated_at(api, shop: Shop, global_id: str) -> str:  # type: ignore[no-untyped-def]
    return (await api(NODE_UPDATED_AT, {"id": global_id}, token=shop.token))["data"]["node"][
        "updatedAt"]


async def events_of(sessionmaker, org: uuid.UUID) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    table = models.table_of(models.DomainEvent)
    async with sessionmaker() as session:
        rows = (await session.execute(select(table.c.kind, table.c.subject_type)
                                      .where(table.c.organization_id == org)
                                      .order_by(table.c.id))).all()
    return [(row.kind, row.subject_type) for row in rows]


async def audit_of(sessionmaker, org: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    table = models.table_of(models.AuditEvent)
    async with sessionmaker() as session:
        rows = (await session.execute(select(table.c.action, table.c.details)
                                      .where(table.c.organization_id == org)
                                      .order_by(table.c.occurred_at, table.c.id))).all()
    return [(row.action, row.details) for row in rows]


# --- jobs -----------------------------------------------------------------------------------


async def test_update_job_changes_the_given_fields_and_leaves_the_others(api, shop):
    before = await updated_at(api, shop, shop.job)

    result = payload_of(await api(UPDATE_JOB, {"input": {
        "jobId": shop.job, "title": "  Mow   the verges and hedges ", "price": "80.00",
        "scheduledFor": "2027-03-01T08:00:00+00:00",
        "assignedStaffIds": [to_global_id("StaffMember", shop.tech["id"])]}}, token=shop.token))

    assert result["userErrors"] == []
    job = result["job"]
    assert job["title"] == "Mow the verges and hedges"
    assert job["price"] == "80.00"
    assert job["scheduledFor"] == "2027-03-01T08:00:00+00:00"
    assert job["internalNotes"] == "staff only note"  # not given: unchanged
    assert job["assignedStaff"] == [{"email": shop.tech["email"]}]
    assert job["updatedAt"] > before


async def test_update_job_clears_a_field_sent_as_null(api, shop):
    result = payload_of(await api(UPDATE_JOB, {"input": {
        "jobId": shop.job, "internalNotes": None, "price": None, "assignedStaffIds": []}},
        token=shop.token))

    assert result["userErrors"] == []
    assert (result["job"]["internalNotes"], result["job"]["price"],
            result["job"]["assignedStaff"]) == (None, None, [])


@pytest.mark.parametrize(("change", "expected"), [
    ({"title": "   "}, [("INVALID_INPUT", ["input", "title"])]),
    ({"title": None}, [("INVALID_INPUT", ["input", "title"])]),
    ({"title": "x" * 201}, [("INVALID_INPUT", ["input", "title"])]),
    ({"price": "-1"}, [("INVALID_INPUT", ["input", "price"])]),
    ({"price": "10000000000"}, [("INVALID_INPUT", ["input", "price"])]),
    ({"scheduledFor": "0001-01-01T00:00:00+00:00"}, [("INVALID_INPUT", ["input", "scheduledFor"])]),
    ({"internalNotes": "n" * 10_001}, [("INVALID_INPUT", ["input", "internalNotes"])]),
    ({"assignedStaffIds": [to_global_id("StaffMember", uuid.uuid4())]},
     [("NOT_FOUND", ["input", "assignedStaffIds"])]),
    ({"assignedStaffIds": ["not-an-id"]}, [("NOT_FOUND", ["input", "assignedStaffIds"])]),
])
async def test_update_job_rejects_what_create_job_rejects(api, shop, change, expected):
    before = await updated_at(api, shop, shop.job)

    result = await api(UPDATE_JOB, {"input": {"jobId": shop.job, **change}}, token=shop.token)

    assert codes(result) == expected
    assert payload_of(result)["job"] is None
    assert await updated_at(api, shop, shop.job) == before


@pytest.mark.parametrize("job_id", [to_global_id("Job", uuid.uuid4()), "garbage",
                                    to_global_id("Asset", uuid.uuid4())])
async def test_update_job_of_an_unknown_id_is_not_found(api, shop, job_id):
    result = await api(UPDATE_JOB, {"input": {"jobId": job_id, "title": "x"}}, token=shop.token)

    assert codes(result) == [("NOT_FOUND", ["input", "jobId"])]


async def test_another_organizations_job_is_not_found_and_unchanged(api, shop, make):
    other_org = await make.organization()
    other_admin = await make.staff(other_org)
    other_token = await make.session_token(other_org, other_admin["person"]["id"])

    result = await api(UPDATE_JOB, {"input": {"jobId": shop.job, "title": "Hijacked"}},
                       token=other_token)

    assert codes(result) == [("NOT_FOUND", ["input", "jobId"])]
    title = (await api("query($id: ID!) { job(id: $id) { title } }", {"id": shop.job},
                       token=shop.token))["data"]["job"]["title"]
    assert title == "Mow the verges"


async def test_a_stale_expected_updated_at_is_refused_and_nothing_is_written(api, shop):
    read = await updated_at(api, shop, shop.job)
    first = await api(UPDATE_JOB, {"input": {"jobId": shop.job, "title": "First admin's",
                                             "expectedUpdatedAt": read}}, token=shop.token)

    second = await api(UPDATE_JOB, {"input": {"jobId": shop.job, "title": "Second admin's",
                                              "expectedUpdatedAt": read}}, token=shop.token)

    assert payload_of(first)["userErrors"] == []
    assert codes(second) == [("STALE_OBJECT", ["input", "expectedUpdatedAt"])]
    assert payload_of(second)["job"] is None
    title = (await api("query($id: ID!) { job(id: $id) { title } }", {"id": shop.job},
                       token=shop.token))["data"]["job"]["title"]
    assert title == "First admin's"


async def test_of_two_concurrent_edits_from_one_version_exactly_one_is_written(api, shop):
    read = await updated_at(api, shop, shop.job)

    results = await asyncio.gather(*(
        api(UPDATE_JOB, {"input": {"jobId": shop.job, "title": f"Edit {n}",
                                   "expectedUpdatedAt": read}}, token=shop.token)
        for n in range(4)))

    outcomes = sorted(tuple(c for c, _ in codes(r)) for r in results)
    assert outcomes == [(), ("STALE_OBJECT",), ("STALE_OBJECT",), ("STALE_OBJECT",)]


async def test_the_current_expected_updated_at_is_accepted(api, shop):
    read = await updated_at(api, shop, shop.job)

    result = await api(UPDATE_JOB, {"input": {"jobId": shop.job, "title": "Checked",
                                              "expectedUpdatedAt": read}}, token=shop.token)

    assert payload_of(result)["userErrors"] == []


async def test_a_status_change_moves_updated_at_too(api, shop):
    read = await updated_at(api, shop, shop.job)
    await api(SET_STATUS, {"id": shop.job, "status": "IN_PROGRESS"}, token=shop.token)

    result = await api(UPDATE_JOB, {"input": {"jobId": shop.job, "title": "Late edit",
                                              "expectedUpdatedAt": read}}, token=shop.token)

    assert codes(result) == [("STALE_OBJECT", ["input", "expectedUpdatedAt"])]


async def test_a_title_change_is_audited_and_published(api, shop, sessionmaker):
    await api(UPDATE_JOB, {"input": {"jobId": shop.job, "title": "Hedges"}}, token=shop.token)

    assert await events_of(sessionmaker, shop.org) == [("job.updated", "Job")]
    [(action, details)] = await audit_of(sessionmaker, shop.org)
    assert action == "JOB_UPDATED"
    assert details["fields"] == ["title"]


async def test_a_change_external_users_cannot_see_is_published_but_not_audited(
        api, shop, sessionmaker):
    await api(UPDATE_JOB, {"input": {"jobId": shop.job, "price": "1.00",
                                     "internalNotes": "gate code 1234"}}, token=shop.token)

    assert await events_of(sessionmaker, shop.org) == [("job.updated", "Job")]
    assert await audit_of(sessionmaker, shop.org) == []


async def test_an_update_that_changes_nothing_writes_and_tells_nothing(api, shop, sessionmaker):
    before = await updated_at(api, shop, shop.job)

    result = await api(UPDATE_JOB, {"input": {"jobId": shop.job, "title": "Mow the verges"}},
                       token=shop.token)

    assert payload_of(result)["job"]["updatedAt"] == before
    assert await events_of(sessionmaker, shop.org) == []


async def test_completing_a_job_publishes_updated_and_completed_and_reopening_only_updated(
        api, shop, sessionmaker):
    await api(SET_STATUS, {"id": shop.job, "status": "COMPLETED"}, token=shop.token)
    await api(SET_STATUS, {"id": shop.job, "status": "COMPLETED"}, token=shop.token)
    await api(SET_STATUS, {"id": shop.job, "status": "IN_PROGRESS"}, token=shop.token)

    assert await events_of(sessionmaker, shop.org) == [
        ("job.updated", "Job"), ("job.completed", "Job"), ("job.updated", "Job")]


async def test_a_rejected_update_leaves_no_event_and_no_audit(api, shop, sessionmaker):
    await api(UPDATE_JOB, {"input": {"jobId": shop.job, "title": "", "price": "2"}},
              token=shop.token)

    assert await events_of(sessionmaker, shop.org) == []
    assert await audit_of(sessionmaker, shop.org) == []


# --- assets ---------------------------------------------------------------------------------


async def test_update_asset_changes_clears_and_keeps(api, shop, sessionmaker):
    result = payload_of(await api(UPDATE_ASSET, {"input": {
        "assetId": shop.asset, "name": "Main pump", "kind": None, "location": "Depot"}},
        token=shop.token))

    assert result["userErrors"] == []
    assert {k: v for k, v in result["asset"].items() if k != "updatedAt"} == {
        "name": "Main pump", "kind": None, "serialNumber": None, "location": "Depot"}
    assert await events_of(sessionmaker, shop.org) == [("asset.updated", "Asset")]
    assert [a for a, _ in await audit_of(sessionmaker, shop.org)] == ["ASSET_UPDATED"]


@pytest.mark.parametrize(("change", "expected"), [
    ({"name": ""}, [("INVALID_INPUT", ["input", "name"])]),
    ({"name": None}, [("INVALID_INPUT", ["input", "name"])]),
    ({"location": "l" * 501}, [("INVALID_INPUT", ["input", "location"])]),
    ({"serialNumber": "s" * 501}, [("INVALID_INPUT", ["input", "serialNumber"])]),
])
async def test_update_asset_rejects_what_create_asset_rejects(api, shop, change, expected):
    result = await api(UPDATE_ASSET, {"input": {"assetId": shop.asset, **change}},
                       token=shop.token)

    assert codes(result) == expected


async def test_update_asset_unknown_and_stale(api, shop):
    read = await updated_at(api, shop, shop.asset)
    await api(UPDATE_ASSET, {"input": {"assetId": shop.asset, "name": "A"}}, token=shop.token)

    unknown = await api(UPDATE_ASSET, {"input": {"assetId": to_global_id("Asset", uuid.uuid4()),
                                                 "name": "B"}}, token=shop.token)
    stale = await api(UPDATE_ASSET, {"input": {"assetId": shop.asset, "name": "B",
                                               "expectedUpdatedAt": read}}, token=shop.token)

    assert codes(unknown) == [("NOT_FOUND", ["input", "assetId"])]
    assert codes(stale) == [("STALE_OBJECT", ["input", "expectedUpdatedAt"])]


# --- map captures ---------------------------------------------------------------------------


async def test_update_map_capture_moves_reshapes_and_detaches_it(api, shop, sessionmaker):
    shape = {"type": "LineString", "coordinates": [[-0.1, 51.5], [-0.11, 51.51]]}

    result = payload_of(await api(UPDATE_CAPTURE, {"input": {
        "mapCaptureId": shop.capture, "latitude": 51.51, "longitude": -0.11, "geometry": shape,
        "jobId": None}}, token=shop.token))

    assert result["userErrors"] == []
    capture = result["mapCapture"]
    assert (capture["latitude"], capture["longitude"], capture["geometry"], capture["job"],
            capture["note"]) == (51.51, -0.11, shape, None, "Gate")
    assert await events_of(sessionmaker, shop.org) == [("map_capture.updated", "MapCapture")]
    assert [a for a, _ in await audit_of(sessionmaker, shop.org)] == ["MAP_CAPTURE_UPDATED"]


async def test_a_capture_moves_to_another_job_of_its_customer_only(api, shop, make):
    same = await make.job(shop.org, shop.customer)
    other = await make.job(shop.org, shop.other_customer)

    moved = await api(UPDATE_CAPTURE, {"input": {"mapCaptureId": shop.capture,
                                                 "jobId": to_global_id("Job", same)}},
                      token=shop.token)
    refused = await api(UPDATE_CAPTURE, {"input": {"mapCaptureId": shop.capture,
                                                   "jobId": to_global_id("Job", other)}},
                        token=shop.token)

    assert payload_of(moved)["mapCapture"]["job"] == {"id": to_global_id("Job", same)}
    assert codes(refused) == [("INVALID_INPUT", ["input", "jobId"])]


@pytest.mark.parametrize(("change", "expected"), [
    ({"latitude": 91}, [("INVALID_INPUT", ["input", "latitude"])]),
    ({"longitude": -181}, [("INVALID_INPUT", ["input", "longitude"])]),
    ({"latitude": None}, [("INVALID_INPUT", ["input", "latitude"])]),
    ({"geometry": {"type": "Circle", "coordinates": []}},
     [("INVALID_GEOMETRY", ["input", "geometry"])]),
    ({"geometry": "POINT(1 2)"}, [("INVALID_GEOMETRY", ["input", "geometry"])]),
    ({"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]}},
     [("INVALID_GEOMETRY", ["input", "geometry"])]),
    ({"note": "n" * 10_001}, [("INVALID_INPUT", ["input", "note"])]),
    ({"jobId": "garbage"}, [("NOT_FOUND", ["input", "jobId"])]),
    ({"jobId": to_global_id("Job", uuid.uuid4())}, [("NOT_FOUND", ["input", "jobId"])]),
])
async def test_update_map_capture_rejects_what_create_rejects(api, shop, change, expected):
    result = await api(UPDATE_CAPTURE, {"input": {"mapCaptureId": shop.capture, **change}},
                       token=shop.token)

    assert codes(result) == expected


async def test_delete_map_capture_removes_it_audits_and_publishes(api, shop, sessionmaker):
    result = payload_of(await api(DELETE_CAPTURE, {"input": {"mapCaptureId": shop.capture}},
                                  token=shop.token))
    again = await api(DELETE_CAPTURE, {"input": {"mapCaptureId": shop.capture}},
                      token=shop.token)

    assert result == {"deletedMapCaptureId": shop.capture, "userErrors": []}
    assert (await api(NODE, {"id": shop.capture}, token=shop.token))["data"]["node"] is None
    assert codes(again) == [("NOT_FOUND", ["input", "mapCaptureId"])]
    assert await events_of(sessionmaker, shop.org) == [("map_capture.deleted", "MapCapture")]
    [(action, details)] = await audit_of(sessionmaker, shop.org)
    assert (action, details["latitude"]) == ("MAP_CAPTURE_DELETED", 51.5)


async def test_delete_map_capture_refuses_a_stale_version(api, shop):
    read = await updated_at(api, shop, shop.capture)
    await api(UPDATE_CAPTURE, {"input": {"mapCaptureId": shop.capture, "note": "Moved gate"}},
              token=shop.token)

    result = await api(DELETE_CAPTURE, {"input": {"mapCaptureId": shop.capture,
                                                  "expectedUpdatedAt": read}}, token=shop.token)

    assert codes(result) == [("STALE_OBJECT", ["input", "expectedUpdatedAt"])]
    assert (await api(NODE, {"id": shop.capture}, token=shop.token))["data"]["node"] is not None
