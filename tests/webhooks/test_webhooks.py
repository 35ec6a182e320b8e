"""Scoped webhooks: what an endpoint hears, delivery through outages, refused destinations."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from standardwebhooks import Webhook

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id
from portal_graph.webhooks.worker import WebhookWorker
from tests.webhooks.receiver import Receiver

CREATE_ENDPOINT = """mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    endpoint { id url eventKinds enabled ownedByOrganization }
    secret userErrors { code field message }
  }
}"""
CREATE_JOB = """mutation($input: CreateJobInput!) {
  createJob(input: $input) { job { id } userErrors { code } }
}"""
REVOKE_ALL = """mutation($id: ID!) {
  revokeAllExternalAccess(input: {externalUserId: $id}) { userErrors { code } }
}"""
ENDPOINTS = """{ webhookEndpoints { id url deliveries { nodes {
  id eventKind status attempts responseCode subjectId } } } }"""
REDELIVER = """mutation($id: ID!) {
  redeliverWebhook(input: {deliveryId: $id}) { delivery { status attempts } userErrors { code } }
}"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def tuned(runtime, monkeypatch):  # type: ignore[no-untyped-def]
    """WEBHOOK_ALLOW_PRIVATE=true (the receiver is on 127.0.0.1) and quick retries."""
    settings = runtime.settings.model_copy(update={
        "webhook_allow_private": True, "webhook_backoff_seconds": 0.01,
        "webhook_timeout_seconds": 2.0})
    monkeypatch.setattr(runtime, "settings", settings)
    return settings


def _worker(runtime, settings) -> WebhookWorker:  # type: ignore[no-untyped-def]
    return WebhookWorker(runtime.sessionmaker, settings, runtime.box)


async def _drain(worker: WebhookWorker, rounds: int = 50) -> None:
    for _ in range(rounds):
        if not await worker.run_once():
            return


@dataclass
class World:
    """An organization with two customers, an admin, and a partner granted the first."""

    granted: uuid.UUID
    other: uuid.UUID
    admin: str  # the admin's token
    partner: dict[str, Any]
    partner_token: str


async def _world(make) -> World:  # type: ignore[no-untyped-def]
    org = await make.organization()
    granted, other = await make.customer(org), await make.customer(org)
    admin = await make.staff(org)
    partner = await make.external(org, [granted])
    return World(granted, other, await make.session_token(org, admin["person"]["id"]),
                 partner, await make.session_token(org, partner["person"]["id"]))


async def _complete_job(api, token: str, customer) -> str:  # type: ignore[no-untyped-def]
    body = await api(CREATE_JOB, {"input": {
        "customerId": to_global_id("Customer", customer), "title": "Survey",
        "status": "COMPLETED"}}, token=token)
    return body["data"]["createJob"]["job"]["id"]  # type: ignore[no-any-return]


async def test_an_external_users_endpoint_hears_only_of_its_granted_customers_work(
        api, make, runtime, tuned, receiver):
    w = await _world(make)
    created = (await api(CREATE_ENDPOINT, {"input": {"url": receiver.url}},
                         token=w.partner_token))["data"]["createWebhookEndpoint"]
    assert created["userErrors"] == []
    assert created["endpoint"]["eventKinds"] == ["job.completed", "job.updated",
                                                 "map_capture.created"]
    ours = await _complete_job(api, w.admin, w.granted)
    await _complete_job(api, w.admin, w.other)

    await _drain(_worker(runtime, tuned))

    assert len(receiver.received) == 1
    hook = receiver.received[0]
    event = Webhook(created["secret"]).verify(hook.body, hook.headers)
    assert event["type"] == "job.completed"
    assert event["data"] == {"id": ours, "customerId": to_global_id("Customer", w.granted)}
    assert set(hook.headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}


async def test_nothing_is_sent_once_access_is_revoked_even_if_queued_before(
        api, make, runtime, tuned, receiver, sessionmaker):
    w = await _world(make)
    await api(CREATE_ENDPOINT, {"input": {"url": receiver.url}}, token=w.partner_token)
    await _complete_job(api, w.admin, w.granted)  # queued while granted
    revoked = await api(REVOKE_ALL, {"id": to_global_id("ExternalUser", w.partner["id"])},
                        token=w.admin)
    assert revoked["data"]["revokeAllExternalAccess"]["userErrors"] == []
    await _complete_job(api, w.admin, w.granted)  # after the revocation: not even queued

    await _drain(_worker(runtime, tuned))

    assert receiver.received == []
    async with sessionmaker() as session:
        statuses = (await session.execute(select(models.WebhookDelivery.status,
                                                 models.WebhookDelivery.last_error))).all()
    assert [tuple(s) for s in statuses] == [("SKIPPED", "the endpoint's owner has no access")]


async def test_a_receiver_down_for_a_while_gets_every_event_exactly_once_when_back(
        api, make, runtime, tuned, receiver):
    w = await _world(make)
    created = (await api(CREATE_ENDPOINT, {"input": {
        "url": receiver.url, "eventKinds": ["job.completed"]}},
        token=w.admin))["data"]["createWebhookEndpoint"]
    assert created["endpoint"]["ownedByOrganization"] is True
    receiver.stop()
    jobs = {await _complete_job(api, w.admin, customer)
            for customer in (w.granted, w.other, w.granted)}
    first, second = _worker(runtime, tuned), _worker(runtime, tuned)
    for _ in range(3):  # down: every attempt fails and is retried later
        await asyncio.gather(first.run_once(), second.run_once())
        await asyncio.sleep(0.05)

    receiver.start()  # back, on the same port
    for _ in range(40):
        await asyncio.gather(first.run_once(), second.run_once())  # two workers, SKIP LOCKED
        if len(receiver.received) >= 3:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    await asyncio.gather(first.run_once(), second.run_once())

    ids = [hook.headers["webhook-id"] for hook in receiver.received]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert {json.loads(hook.body)["data"]["id"] for hook in receiver.received} == jobs
    listed = (await api(ENDPOINTS, token=w.admin))["data"]["webhookEndpoints"][0]
    deliveries = listed["deliveries"]["nodes"]
    assert {(d["status"], d["responseCode"]) for d in deliveries} == {("DELIVERED", 204)}
    assert all(d["attempts"] >= 2 for d in deliveries)


async def test_a_private_destination_is_refused_by_default(api, make, runtime, receiver,
                                                           sessionmaker):
    w = await _world(make)
    for url in (receiver.url, "http://169.254.169.254/latest/meta-data/", "http://10.0.0.8/",
                "http://[::1]:8080/x", "http://localhost/hooks"):
        body = await api(CREATE_ENDPOINT, {"input": {"url": url}}, token=w.admin)
        assert body["data"]["createWebhookEndpoint"]["userErrors"] == [{
            "code": "DESTINATION_REFUSED", "field": ["input", "url"],
            "message": "The URL resolves to a loopback, private, link-local or reserved "
                       "address."}], url
    for url in ("ftp://example.com/", "http://user:pw@example.com/", "not a url"):
        body = await api(CREATE_ENDPOINT, {"input": {"url": url}}, token=w.admin)
        assert body["data"]["createWebhookEndpoint"]["userErrors"][0]["code"] == "INVALID_URL"


async def test_the_worker_refuses_a_private_destination_too(api, make, runtime, tuned,
                                                            receiver):
    w = await _world(make)
    await api(CREATE_ENDPOINT, {"input": {"url": receiver.url}}, token=w.admin)  # allowed then
    await _complete_job(api, w.admin, w.granted)
    strict = tuned.model_copy(update={"webhook_allow_private": False})

    await _worker(runtime, strict).run_once()

    assert receiver.received == []
    listed = (await api(ENDPOINTS, token=w.admin))["data"]["webhookEndpoints"][0]
    assert [d["status"] for d in listed["deliveries"]["nodes"]] == ["QUEUED"]


async def test_an_endpoint_failing_for_too_long_is_disabled_and_the_admins_told(
        api, make, runtime, tuned, sessionmaker):
    w = await _world(make)
    down = Receiver(status=500).start()
    try:
        await api(CREATE_ENDPOINT, {"input": {"url": down.url}}, token=w.admin)
        await _complete_job(api, w.admin, w.granted)
        quick = tuned.model_copy(update={"webhook_disable_after_seconds": 0.001})
        for _ in range(3):
            await _worker(runtime, quick).run_once()
            await asyncio.sleep(0.05)
    finally:
        down.stop()
    async with sessionmaker() as session:
        endpoint = (await session.execute(select(models.WebhookEndpoint))).scalar_one()
        emails = (await session.execute(text(
            "SELECT template FROM email_outbox"))).scalars().all()
    assert endpoint.enabled is False and endpoint.disabled_reason == "failing for too long"
    assert emails == ["webhook_disabled"]
    listed = (await api(ENDPOINTS, token=w.admin))["data"]["webhookEndpoints"][0]
    assert {d["responseCode"] for d in listed["deliveries"]["nodes"]} == {500}


async def test_an_external_user_may_not_subscribe_to_staff_events(api, make, tuned, receiver):
    w = await _world(make)

    body = await api(CREATE_ENDPOINT, {"input": {
        "url": receiver.url, "eventKinds": ["invitation.accepted"]}}, token=w.partner_token)

    assert body["data"]["createWebhookEndpoint"]["userErrors"][0]["code"] == "INVALID_INPUT"


async def test_a_delivery_can_be_sent_again(api, make, runtime, tuned, receiver):
    w = await _world(make)
    await api(CREATE_ENDPOINT, {"input": {"url": receiver.url}}, token=w.admin)
    await _complete_job(api, w.admin, w.granted)
    await _drain(_worker(runtime, tuned))
    delivery = (await api(ENDPOINTS, token=w.admin))["data"]["webhookEndpoints"][0][
        "deliveries"]["nodes"][0]

    again = await api(REDELIVER, {"id": delivery["id"]}, token=w.admin)
    await _drain(_worker(runtime, tuned))

    assert again["data"]["redeliverWebhook"] == {
        "delivery": {"status": "QUEUED", "attempts": 0}, "userErrors": []}
    assert [h.headers["webhook-id"] for h in receiver.received] == [
        receiver.received[0].headers["webhook-id"]] * 2


async def test_external_users_see_only_their_own_endpoints(api, make, tuned, receiver):
    w = await _world(make)
    await api(CREATE_ENDPOINT, {"input": {"url": receiver.url}}, token=w.admin)
    await api(CREATE_ENDPOINT, {"input": {"url": receiver.url + "/mine"}},
              token=w.partner_token)

    mine = (await api(ENDPOINTS, token=w.partner_token))["data"]["webhookEndpoints"]
    everything = (await api(ENDPOINTS, token=w.admin))["data"]["webhookEndpoints"]

    assert [e["url"] for e in mine] == [receiver.url + "/mine"]
    assert len(everything) == 2


async def test_the_sweep_forgets_settled_deliveries_after_a_month(runtime, make, sessionmaker):
    from portal_graph import maintenance

    org = await make.organization()
    endpoint = models.new_id()
    old = datetime.now(UTC) - timedelta(days=31)
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(models.WebhookEndpoint).values(
            organization_id=org, id=endpoint, url="https://93.184.215.14/", event_kinds=[],
            secret_ciphertext=b"x"))
        await session.execute(insert(models.WebhookDelivery), [
            {"organization_id": org, "id": models.new_id(), "endpoint_id": endpoint,
             "event_position": n, "kind": "job.completed", "subject_type": "Job",
             "subject_id": models.new_id(), "occurred_at": old, "created_at": old,
             "status": status} for n, status in enumerate(("DELIVERED", "SKIPPED", "QUEUED"))])

    result = await maintenance.sweep(runtime)

    assert result.webhook_deliveries == 2
    async with sessionmaker() as session:
        left = (await session.scalars(select(models.WebhookDelivery.status))).all()
    assert left == ["QUEUED"]


def test_the_disabling_email_names_the_endpoint_and_the_way_back():
    from portal_graph.mail import templates

    email = templates.render(templates.WEBHOOK_DISABLED,
                             {"url": "https://council.example/hooks\r\nBcc: x",
                              "last_error": "HTTP 500"}, None)

    assert email.subject == "A webhook endpoint was disabled after a day of failures"
    assert "https://council.example/hooks Bcc: x" in email.text  # one line, no header break
    assert "updateWebhookEndpoint" in email.text and "HTTP 500" in email.text
    assert "<script" not in email.html
