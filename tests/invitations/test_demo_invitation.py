"""The demo organization shows a pending invitation, made through the invitation service."""

from __future__ import annotations

import pytest

from portal_graph import demo
from tests.invitations.support import INVITATIONS, only

pytestmark = pytest.mark.pooled  # also run through PgBouncer (scripts/test)

LOGIN = """mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token } }"""


async def test_the_demo_has_one_pending_invitation_to_northgate(api, sessionmaker, settings):
    await demo.seed_demo(sessionmaker, settings)
    token = only(await api(LOGIN, {"email": demo.ADMIN_EMAIL,
                                   "password": demo.ADMIN_PASSWORD}))["token"]

    listed = only(await api(INVITATIONS, {"status": "PENDING"}, token=token))

    assert [e["node"]["email"] for e in listed["edges"]] == [demo.INVITEE_EMAIL]
    node = listed["edges"][0]["node"]
    assert node["customers"] == [{"name": "Northgate Business Park"}]
    assert node["emailStatus"] == "QUEUED"
