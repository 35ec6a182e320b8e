"""Abuse of invitations: guessing links (preview, accept) per address, invites per organization.

The mutations answer RATE_LIMITED in `userErrors`; the preview, a query, answers with a
top-level error of that code. Either message says when to retry.
"""

from __future__ import annotations

import re
from typing import Any

from portal_graph.graphql.core.relay import to_global_id
from tests.conftest import without_cost
from tests.hardening.conftest import AppFactory, World, api_for

PREVIEW = "query($token: String!) { invitationPreview(token: $token) { email } }"
ACCEPT = """
mutation($token: String!) {
  acceptInvitation(input: {token: $token, password: "a long enough new password"}) {
    token
    userErrors { code message }
  }
}"""
INVITE = """
mutation($email: String!, $customers: [ID!]!) {
  inviteExternalUser(input: {email: $email, customerIds: $customers}) {
    inviteUrl
    userErrors { code message }
  }
}"""
RETRY = re.compile(r"Try again in \d+ seconds")


async def test_invitation_previews_are_limited_per_address(app_with: AppFactory,
                                                           client_for: Any) -> None:
    app = app_with(rate_limit_preview_per_address="3/60")
    prober = api_for(client_for(app, "198.51.100.7"))
    neighbour = api_for(client_for(app, "198.51.100.8"))

    answers = [await prober(PREVIEW, {"token": f"guess-{i}"}) for i in range(4)]
    other = await neighbour(PREVIEW, {"token": "guess-x"})

    assert [a.get("errors") for a in answers[:3]] == [None] * 3
    assert [a["data"]["invitationPreview"] for a in answers[:3]] == [None] * 3
    refused = answers[3]["errors"][0]
    assert refused["extensions"]["code"] == "RATE_LIMITED"
    assert RETRY.search(refused["message"])
    assert without_cost(other) == {"data": {"invitationPreview": None}}


async def test_accepting_invitations_is_limited_per_address(app_with: AppFactory,
                                                            client_for: Any) -> None:
    app = app_with(rate_limit_accept_per_address="3/60")
    prober = api_for(client_for(app, "198.51.100.9"))

    answers = [(await prober(ACCEPT, {"token": f"guess-{i}"}))["data"]["acceptInvitation"]
               for i in range(4)]

    assert [a["userErrors"][0]["code"] for a in answers] == ["INVITATION_INVALID"] * 3 + [
        "RATE_LIMITED"]
    assert RETRY.search(answers[3]["userErrors"][0]["message"])


async def test_invites_are_limited_per_organization(app_with: AppFactory, client_for: Any,
                                                    world: World) -> None:
    api = api_for(client_for(app_with(rate_limit_invites_per_organization="2/3600")))
    customers = [to_global_id("Customer", world.customer_b)]

    answers = []
    for i in range(3):
        body = await api(INVITE, {"email": f"guest{i}@example.com", "customers": customers},
                         token=world.admin_token)
        answers.append(body["data"]["inviteExternalUser"])

    assert [bool(a["inviteUrl"]) for a in answers] == [True, True, False]
    assert answers[2]["userErrors"][0]["code"] == "RATE_LIMITED"
    assert RETRY.search(answers[2]["userErrors"][0]["message"])
