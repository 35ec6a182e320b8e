"""The changes that live updates and webhooks tell of are published as domain events, in the
transaction of the change: invitations issued, re-sent, cancelled, accepted, their email sent or
given up on; grants changed or revoked; jobs created, changed and completed; captures added."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from portal_graph.db import models
from portal_graph.graphql.core.relay import from_global_id
from tests.invitations.support import (
    REVOKE_ALL,
    Org,
    accept,
    external_user_id,
    invited,
    only,
    token_of,
)

SET_CUSTOMERS = """mutation($user: ID!, $customers: [ID!]!) {
  setExternalUserCustomers(input: {externalUserId: $user, customerIds: $customers}) {
    userErrors { code } } }"""
CREATE_JOB = """mutation($input: CreateJobInput!) { createJob(input: $input)
  { job { id } userErrors { code } } }"""
SET_STATUS = """mutation($id: ID!, $status: JobStatus!) {
  setJobStatus(input: {jobId: $id, status: $status}) { userErrors { code } } }"""
CREATE_CAPTURE = """mutation($input: CreateMapCaptureInput!) { createMapCapture(input: $input)
  { mapCapture { id } userErrors { code } } }"""


async def told(sessionmaker: Any, org: Org) -> list[tuple[str, str, uuid.UUID]]:
    """The organization's events so far, oldest first: (kind, subject type, subject id)."""
    async with sessionmaker() as session:
        rows = (await session.execute(
            select(models.DomainEvent.kind, models.DomainEvent.subject_type,
                   models.DomainEvent.subject_id)
            .where(models.DomainEvent.organization_id == org.id)
            .order_by(models.DomainEvent.id))).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def local(global_id: str) -> uuid.UUID:
    decoded = from_global_id(global_id)
    assert decoded is not None
    return decoded[1]


async def test_an_invitation_tells_of_each_step_and_of_its_email(
        api, org, sessionmaker, make_worker):
    payload = await invited(api, org, "dana@example.com", "Riverside Council")
    invitation = local(payload["invitation"]["id"])
    await make_worker().run_once()
    accepted = await accept(api, token_of(payload["inviteUrl"]))
    assert accepted["userErrors"] == []

    assert await told(sessionmaker, org) == [
        ("invitation.updated", "Invitation", invitation),  # issued, email queued
        ("invitation.updated", "Invitation", invitation),  # email sent
        ("invitation.accepted", "Invitation", invitation),
        ("invitation.updated", "Invitation", invitation),
    ]


async def test_an_email_given_up_on_tells_of_its_failure(api, org, sessionmaker, make_worker,
                                                          smtp_server):
    payload = await invited(api, org, "erin@example.com", "Riverside Council")
    invitation = local(payload["invitation"]["id"])
    smtp_server.stop()
    await make_worker(outbox_max_attempts=1).run_once()

    assert (await told(sessionmaker, org))[1:] == [
        ("invitation.updated", "Invitation", invitation),
        ("invitation.email_failed", "Invitation", invitation),
    ]


async def test_grants_changed_and_all_access_revoked_are_told(api, org, sessionmaker):
    payload = await invited(api, org, "fay@example.com", "Riverside Council")
    assert (await accept(api, token_of(payload["inviteUrl"])))["userErrors"] == []
    user_id = await external_user_id(sessionmaker, org, "fay@example.com")
    user = local(user_id)
    start = len(await told(sessionmaker, org))

    assert only(await api(SET_CUSTOMERS, {"user": user_id, "customers": [
        org.customer("Harbour Works")]}, token=org.token))["userErrors"] == []
    assert only(await api(REVOKE_ALL, {"user": user_id}, token=org.token))["userErrors"] == []

    assert (await told(sessionmaker, org))[start:] == [
        ("external_user.updated", "ExternalUser", user),
        ("external_user.access_revoked", "ExternalUser", user),
        ("external_user.updated", "ExternalUser", user),
    ]


async def test_jobs_and_captures_tell_of_creation_change_and_completion(api, org, sessionmaker):
    customer = org.customer("Riverside Council")
    job_id = only(await api(CREATE_JOB, {"input": {"customerId": customer, "title": "Mow"}},
                            token=org.token))["job"]["id"]
    job = local(job_id)
    for status in ("IN_PROGRESS", "IN_PROGRESS", "COMPLETED"):  # the repeat changes nothing
        assert only(await api(SET_STATUS, {"id": job_id, "status": status},
                              token=org.token))["userErrors"] == []
    capture = only(await api(CREATE_CAPTURE, {"input": {
        "customerId": customer, "latitude": 51.5, "longitude": -0.12}}, token=org.token))

    assert await told(sessionmaker, org) == [
        ("job.created", "Job", job),
        ("job.updated", "Job", job),
        ("job.updated", "Job", job),
        ("job.completed", "Job", job),
        ("map_capture.created", "MapCapture", local(capture["mapCapture"]["id"])),
    ]
