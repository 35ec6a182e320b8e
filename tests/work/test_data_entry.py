"""Staff data entry: assets, jobs, map captures (for customers); listing jobs page by page."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id

pytestmark = pytest.mark.pooled  # also run through PgBouncer (scripts/test)

CREATE_CUSTOMER = """mutation($name: String!) { createCustomer(input: {name: $name})
  { customer { id name } userErrors { code field message } } }"""
CREATE_ASSET = """mutation($input: CreateAssetInput!) { createAsset(input: $input)
  { asset { id name kind serialNumber location customer { name } } userErrors { code field } } }"""
CREATE_JOB = """mutation($input: CreateJobInput!) { createJob(input: $input)
  { job { id reference title status completedAt price internalNotes customer { name }
          assets { edges { node { name } } } assignedStaff { email } }
    userErrors { code field message } } }"""
SET_STATUS = """mutation($id: ID!, $status: JobStatus!) {
  setJobStatus(input: {jobId: $id, status: $status})
  { job { status completedAt } userErrors { code field } } }"""
CREATE_CAPTURE = """mutation($input: CreateMapCaptureInput!) { createMapCapture(input: $input)
  { mapCapture { id latitude longitude geometry note job { title } customer { name }
                 capturedBy { email } }
    userErrors { code field message } } }"""
JOBS_PAGE = """query($after: String) { jobs(first: 2, after: $after) {
  edges { cursor node { title } } pageInfo { hasNextPage endCursor } totalCount } }"""


@pytest.fixture
async def staff_token(make):
    org = await make.organization()
    staff = await make.staff(org, role=models.Role.USER, email="tech@example.com")
    return org, await make.session_token(org, staff["person"]["id"])


async def _customer(api, token, name="Riverside Council"):
    result = await api(CREATE_CUSTOMER, {"name": name}, token=token)
    return result["data"]["createCustomer"]["customer"]["id"]


async def test_staff_create_a_customer_asset_job_and_capture(api, staff_token):
    _, token = staff_token
    customer_id = await _customer(api, token)
    asset = (await api(CREATE_ASSET, {"input": {
        "customerId": customer_id, "name": "Pump", "kind": "Pump", "serialNumber": "P-1",
        "location": "Depot"}}, token=token))["data"]["createAsset"]
    job = (await api(CREATE_JOB, {"input": {
        "customerId": customer_id, "title": "Service the pump", "reference": "R-1",
        "assetIds": [asset["asset"]["id"]], "price": "120.50",
        "internalNotes": "Key at reception", "scheduledFor": "2026-12-01T09:00:00+00:00"}},
        token=token))["data"]["createJob"]
    capture = (await api(CREATE_CAPTURE, {"input": {
        "customerId": customer_id, "jobId": job["job"]["id"], "latitude": 51.5,
        "longitude": -0.12, "note": "Pump housing",
        "geometry": {"type": "Point", "coordinates": [-0.12, 51.5]}}},
        token=token))["data"]["createMapCapture"]

    assert asset["userErrors"] == job["userErrors"] == capture["userErrors"] == []
    assert job["job"]["status"] == "SCHEDULED"
    assert job["job"]["price"] == "120.50"
    assert job["job"]["assets"]["edges"] == [{"node": {"name": "Pump"}}]
    assert capture["mapCapture"]["job"] == {"title": "Service the pump"}
    assert capture["mapCapture"]["capturedBy"] == {"email": "tech@example.com"}
    assert capture["mapCapture"]["geometry"] == {"type": "Point", "coordinates": [-0.12, 51.5]}


async def test_completing_a_job_stamps_its_completion_time(api, staff_token):
    _, token = staff_token
    customer_id = await _customer(api, token)
    job = (await api(CREATE_JOB, {"input": {"customerId": customer_id, "title": "Mow"}},
                     token=token))["data"]["createJob"]["job"]

    done = await api(SET_STATUS, {"id": job["id"], "status": "COMPLETED"}, token=token)
    reopened = await api(SET_STATUS, {"id": job["id"], "status": "IN_PROGRESS"}, token=token)

    assert done["data"]["setJobStatus"]["job"]["completedAt"] is not None
    assert reopened["data"]["setJobStatus"]["job"] == {"status": "IN_PROGRESS",
                                                        "completedAt": None}


@pytest.mark.parametrize(("query", "variables", "code", "field"), [
    (CREATE_CUSTOMER, {"name": "   "}, "INVALID_INPUT", ["input", "name"]),
    (CREATE_JOB, {"input": {"customerId": "bad", "title": "x"}}, "NOT_FOUND",
     ["input", "customerId"]),
    (CREATE_JOB, {"input": {"customerId": "$C", "title": ""}}, "INVALID_INPUT",
     ["input", "title"]),
    (CREATE_JOB, {"input": {"customerId": "$C", "title": "x", "price": "-1"}}, "INVALID_INPUT",
     ["input", "price"]),
    (CREATE_JOB, {"input": {"customerId": "$C", "title": "x", "assetIds": ["nope"]}},
     "NOT_FOUND", ["input", "assetIds"]),
    (CREATE_ASSET, {"input": {"customerId": "$C", "name": ""}}, "INVALID_INPUT",
     ["input", "name"]),
    (CREATE_CAPTURE, {"input": {"customerId": "$C", "latitude": 91, "longitude": 0}},
     "INVALID_INPUT", ["input", "latitude"]),
    (CREATE_CAPTURE, {"input": {"customerId": "$C", "latitude": 0, "longitude": -180.5}},
     "INVALID_INPUT", ["input", "longitude"]),
    (CREATE_CAPTURE, {"input": {"customerId": "$C", "latitude": 0, "longitude": 0,
                                "geometry": {"type": "Circle"}}}, "INVALID_GEOMETRY",
     ["input", "geometry"]),
    (CREATE_CAPTURE, {"input": {"customerId": "$C", "latitude": 0, "longitude": 0,
                                "jobId": "nope"}}, "NOT_FOUND", ["input", "jobId"]),
    # Dates nobody means: year 1 and year 9999 are typos or probes.
    (CREATE_JOB, {"input": {"customerId": "$C", "title": "x",
                            "scheduledFor": "0001-01-01T00:00:00+00:00"}}, "INVALID_INPUT",
     ["input", "scheduledFor"]),
    (CREATE_JOB, {"input": {"customerId": "$C", "title": "x",
                            "scheduledFor": "9999-12-31T23:59:59+00:00"}}, "INVALID_INPUT",
     ["input", "scheduledFor"]),
    (CREATE_CAPTURE, {"input": {"customerId": "$C", "latitude": 0, "longitude": 0,
                                "capturedAt": "1899-12-31T23:00:00+00:00"}}, "INVALID_INPUT",
     ["input", "capturedAt"]),
    (CREATE_CAPTURE, {"input": {"customerId": "$C", "latitude": 0, "longitude": 0,
                                "capturedAt": "2200-01-01T00:00:00"}}, "INVALID_INPUT",
     ["input", "capturedAt"]),
])
async def test_bad_input_gets_a_user_error_and_writes_nothing(api, staff_token, sessionmaker,
                                                              query, variables, code, field):
    _, token = staff_token
    customer_id = await _customer(api, token)
    filled = {"input": {k: customer_id if v == "$C" else v
                        for k, v in variables["input"].items()}} if "input" in variables \
        else variables

    result = await api(query, filled, token=token)

    payload = next(iter(result["data"].values()))
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    async with sessionmaker() as session:
        counts = [await session.scalar(select(func.count()).select_from(t)) for t in
                  (models.Job, models.Asset, models.MapCapture)]
        customers = await session.scalar(select(func.count()).select_from(models.Customer))
    assert counts == [0, 0, 0] and customers == 1


async def test_a_customer_of_another_organization_is_not_found(api, make, staff_token):
    _, token = staff_token
    other = await make.organization()
    foreign = await make.customer(other)

    result = await api(CREATE_JOB, {"input": {"customerId": to_global_id("Customer", foreign),
                                              "title": "Sneaky"}}, token=token)

    assert result["data"]["createJob"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_a_duplicate_job_reference_is_refused(api, staff_token):
    _, token = staff_token
    customer_id = await _customer(api, token)
    job = {"customerId": customer_id, "title": "x", "reference": "SAME"}
    await api(CREATE_JOB, {"input": job}, token=token)

    again = await api(CREATE_JOB, {"input": job}, token=token)

    assert again["data"]["createJob"]["userErrors"][0]["code"] == "DUPLICATE_REFERENCE"


async def test_jobs_are_listed_newest_first_page_by_page(api, make, staff_token):
    org, token = staff_token
    customer = await make.customer(org)
    for n in range(5):
        await make.job(org, customer, title=f"Job {n}")

    pages, after = [], None
    while True:
        page = (await api(JOBS_PAGE, {"after": after}, token=token))["data"]["jobs"]
        pages.append([e["node"]["title"] for e in page["edges"]])
        assert page["totalCount"] == 5
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert pages == [["Job 4", "Job 3"], ["Job 2", "Job 1"], ["Job 0"]]


async def test_a_malformed_cursor_is_a_clear_error(api, staff_token):
    _, token = staff_token
    result = await api(JOBS_PAGE, {"after": "not-a-cursor"}, token=token)
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_for_anonymous_callers_the_staff_data_does_not_exist(api):
    result = await api("{ jobs { totalCount } }")
    assert result["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
