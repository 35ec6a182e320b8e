"""Live subscriptions over a real WebSocket (graphql-transport-ws), one server in process."""

from __future__ import annotations

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id
from tests.live.support import (
    INVITATION_UPDATED,
    JOB_UPDATED,
    SET_STATUS,
    LiveClient,
)

Status = models.JobStatus


async def _org(make):
    org = await make.organization()
    granted, other = await make.customer(org, name="Granted"), await make.customer(org)
    admin = await make.staff(org, models.Role.ADMIN)
    external = await make.external(org, [granted])
    return {
        "org": org, "granted": granted, "other": other,
        "admin_token": await make.session_token(org, admin["person_id"]),
        "external": external,
        "external_token": await make.session_token(org, external["person_id"]),
    }


async def test_an_external_user_hears_of_a_job_the_moment_it_is_completed(
        make, api, live_url):
    w = await _org(make)
    hidden = await make.job(w["org"], w["other"], Status.SCHEDULED)
    job = await make.job(w["org"], w["granted"], Status.SCHEDULED)
    client = await LiveClient.open(live_url, w["external_token"])
    try:
        id_ = await client.subscribe(JOB_UPDATED)
        await client.nothing_within(0.3)
        for target, status in ((job, "IN_PROGRESS"), (hidden, "COMPLETED"),
                               (job, "COMPLETED")):
            answer = await api(SET_STATUS, {"id": to_global_id("Job", target),
                                            "status": status}, token=w["admin_token"])
            assert answer["data"]["setJobStatus"]["userErrors"] == []
        # Each event is answered with the job as it is when the event is handled: on a busy
        # machine the IN_PROGRESS event may be handled after the completion, and say so too.
        for message in await client.until_quiet():
            assert message["type"] == "next" and message["id"] == id_
            node = message["payload"]["data"]["jobUpdated"]
            assert node["id"] == to_global_id("Job", job)
            assert node["status"] == "COMPLETED" and node["customer"]["name"] == "Granted"
    finally:
        await client.close()


async def test_staff_hear_of_every_change_and_may_narrow_to_one_customer(make, api, live_url):
    w = await _org(make)
    job = await make.job(w["org"], w["granted"], Status.SCHEDULED)
    other = await make.job(w["org"], w["other"], Status.SCHEDULED)
    client = await LiveClient.open(live_url, w["admin_token"])
    try:
        everything = await client.subscribe(JOB_UPDATED)
        one = await client.subscribe(JOB_UPDATED,
                                     {"customerId": to_global_id("Customer", w["other"])})
        await client.nothing_within(0.3)
        await api(SET_STATUS, {"id": to_global_id("Job", job), "status": "IN_PROGRESS"},
                  token=w["admin_token"])
        first = await client.receive()
        assert first["id"] == everything
        assert first["payload"]["data"]["jobUpdated"]["status"] == "IN_PROGRESS"
        await client.nothing_within(0.3)
        await api(SET_STATUS, {"id": to_global_id("Job", other), "status": "IN_PROGRESS"},
                  token=w["admin_token"])
        heard = {(await client.receive())["id"], (await client.receive())["id"]}
        assert heard == {everything, one}
    finally:
        await client.close()


async def test_an_external_user_cannot_subscribe_to_invitations(make, live_url):
    w = await _org(make)
    client = await LiveClient.open(live_url, w["external_token"])
    try:
        id_ = await client.subscribe(INVITATION_UPDATED)
        message = await client.receive()
        assert message["type"] == "error" and message["id"] == id_
        # hidden means unknown: the answer an unknown field gets
        assert "Cannot query field 'invitationUpdated'" in message["payload"][0]["message"]
    finally:
        await client.close()


async def test_revoking_access_closes_the_connection(make, api, live_url):
    w = await _org(make)
    client = await LiveClient.open(live_url, w["external_token"])
    try:
        await client.subscribe(JOB_UPDATED)
        await client.nothing_within(0.3)
        answer = await api("""mutation($id: ID!) {
          revokeAllExternalAccess(input: {externalUserId: $id}) { userErrors { code } }
        }""", {"id": to_global_id("ExternalUser", w["external"]["id"])},
            token=w["admin_token"])
        assert answer["data"]["revokeAllExternalAccess"]["userErrors"] == []
        code, reason = await client.closed_with(3)
        assert code == 4403 and "Forbidden" in reason
    finally:
        await client.close()


async def test_a_bad_token_is_refused_and_a_subscribe_before_init_is_unauthorized(
        make, live_url):
    client = await LiveClient.open(live_url, "pgs_not-a-real-token", ack=False)
    assert (await client.closed_with())[0] == 4403
    client = await LiveClient.open(live_url, None, ack=False)
    assert (await client.closed_with())[0] == 4403


async def test_queries_belong_over_http(make, live_url):
    w = await _org(make)
    client = await LiveClient.open(live_url, w["admin_token"])
    try:
        id_ = await client.subscribe("{ __typename }")
        message = await client.receive()
        assert message["type"] == "error" and message["id"] == id_
        assert message["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}
    finally:
        await client.close()


async def test_subscriptions_are_limited_per_connection_and_per_person(
        make, live_url, app, monkeypatch):
    w = await _org(make)
    settings = app.state.runtime.settings
    monkeypatch.setattr(settings, "subscriptions_per_connection", 2)
    monkeypatch.setattr(settings, "subscriptions_per_person", 3)
    first = await LiveClient.open(live_url, w["admin_token"])
    second = await LiveClient.open(live_url, w["admin_token"])
    try:
        await first.subscribe(JOB_UPDATED)
        await first.subscribe(INVITATION_UPDATED)
        await first.subscribe(JOB_UPDATED)
        refused = await first.receive()
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        assert "one connection" in refused["payload"][0]["message"]
        await second.subscribe(JOB_UPDATED)
        await second.nothing_within(0.3)
        await second.subscribe(JOB_UPDATED)
        refused = await second.receive()
        assert "one person" in refused["payload"][0]["message"]
        # completing one frees its place
        await first.send({"type": "complete", "id": "nope"})
    finally:
        await first.close()
        await second.close()


async def test_a_session_that_ends_closes_its_connection_at_the_next_check(
        make, api, live_url, app, monkeypatch):
    w = await _org(make)
    monkeypatch.setattr(app.state.runtime.settings, "subscription_recheck_seconds", 0.5)
    client = await LiveClient.open(live_url, w["admin_token"])
    try:
        await client.subscribe(INVITATION_UPDATED)
        await client.nothing_within(0.7)  # checked once already: still valid
        answer = await api("mutation { logout { ended } }", token=w["admin_token"])
        assert answer["data"]["logout"]["ended"] is True
        code, reason = await client.closed_with(3)  # no event: the periodic check
        assert code == 4403 and "ended" in reason
    finally:
        await client.close()


async def test_an_api_token_subscribes_like_its_owner(make, api, live_url):
    w = await _org(make)
    made = await api("""mutation { createApiToken(input: {name: "live"}) {
        token userErrors { code } } }""", token=w["admin_token"])
    token = made["data"]["createApiToken"]["token"]
    client = await LiveClient.open(live_url, token)
    try:
        id_ = await client.subscribe(INVITATION_UPDATED)
        await client.nothing_within(0.3)
        invited = await api("""mutation($c: ID!) { inviteExternalUser(input: {
            email: "pat@council.example", customerIds: [$c]}) { userErrors { code } } }""",
                            {"c": to_global_id("Customer", w["granted"])}, token=token)
        assert invited["data"]["inviteExternalUser"]["userErrors"] == []
        messages = await client.until_quiet()
        assert {m["id"] for m in messages} == {id_}
        assert messages[-1]["payload"]["data"]["invitationUpdated"]["status"] == "PENDING"
    finally:
        await client.close()


async def test_a_subscription_over_http_is_told_where_to_go(make, api):
    w = await _org(make)
    result = await api(INVITATION_UPDATED, token=w["admin_token"])
    assert api.response.status_code == 400
    assert result["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "WebSocket" in result["errors"][0]["message"]
