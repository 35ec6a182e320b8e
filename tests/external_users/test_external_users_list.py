"""Settings -> External Users: every external user of the organization with their
customers as badges, status, when invited and last seen; searchable and paginated. And the
per-customer view: a customer's active external users and pending invitations."""

from __future__ import annotations

import uuid

from tests.invitations.support import (
    EXTERNAL_USERS,
    accept,
    external_user_id,
    gid,
    invited,
    only,
    organization,
    signed_up,
    sql,
    token_of,
)

CUSTOMER_VIEW = """query($id: ID!) { customer(id: $id) { name
  externalUsers { email status customers { name } }
  pendingInvitations { email status emailStatus } } }"""
NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on ExternalUser { email userStatus: status }
  ... on Invitation { email invitationStatus: status invitedBy { email } }
  ... on AuditEvent { action targetEmail } } }"""


async def _list(api, org, **variables):  # type: ignore[no-untyped-def]
    return only(await api(EXTERNAL_USERS, variables, token=org.token))


async def test_each_external_user_is_listed_with_badges_status_invited_and_last_seen(
        api, org, make, sessionmaker):
    await signed_up(api, org, "ana@client.example", "Riverside Council",
                               "Harbour Works")
    await make.external(org.id, [], email="nobody@client.example")

    listed = await _list(api, org)

    users = {e["node"]["email"]: e["node"] for e in listed["edges"]}
    assert listed["totalCount"] == 2
    ana = users["ana@client.example"]
    assert [c["name"] for c in ana["customers"]] == ["Harbour Works", "Riverside Council"]
    assert ana["customers"][0]["id"] == org.customer("Harbour Works")  # badge -> customer
    assert ana["status"] == "ACTIVE"
    assert ana["invitedAt"] is not None
    assert ana["lastSeenAt"] is not None  # accepting signed her in
    assert users["nobody@client.example"]["status"] == "NO_ACCESS"
    assert users["nobody@client.example"]["customers"] == []
    assert users["nobody@client.example"]["lastSeenAt"] is None


async def test_search_matches_name_email_or_company_ignoring_case(api, org, make):
    await make.external(org.id, [org.customers["Riverside Council"]],
                        email="ana@client.example", name="Ana Lee")
    await make.external(org.id, [org.customers["Harbour Works"]],
                        email="bob@harbour.example", name="Robert Stone")
    await make.external(org.id, [], email="carol@else.example", name="Carol 100%_Real")

    def emails(listed):  # type: ignore[no-untyped-def]
        return sorted(e["node"]["email"] for e in listed["edges"])

    assert emails(await _list(api, org, search="ANA LE")) == ["ana@client.example"]
    assert emails(await _list(api, org, search="Harbour.EX")) == ["bob@harbour.example"]
    assert emails(await _list(api, org, search="riverside")) == ["ana@client.example"]
    assert emails(await _list(api, org, search="harbour")) == ["bob@harbour.example"]
    assert emails(await _list(api, org, search="100%_")) == ["carol@else.example"]
    assert emails(await _list(api, org, search="%")) == ["carol@else.example"]
    assert emails(await _list(api, org, search="nothing like it")) == []
    assert len(emails(await _list(api, org, search="  "))) == 3


async def test_search_finds_each_organizations_own_members_only(api, org, make):
    rival = await organization(make, name="Rival Contractor", customers=("Riverside Rival",))
    both = await make.person(email="dana@both.example", name="Dana Both")
    ours = await make.external(org.id, [org.customers["Riverside Council"]], person=both)
    theirs = await make.external(rival.id, [rival.customers["Riverside Rival"]], person=both)
    await make.external(rival.id, [], email="erin@rival.example", name="Erin Rival")

    def found(listed):  # type: ignore[no-untyped-def]
        return [(e["node"]["id"], e["node"]["email"]) for e in listed["edges"]]

    for fragment in ("dana", "riverside", "rival", "both.ex"):
        assert found(await _list(api, org, search=fragment)) == (
            [] if fragment == "rival" else [(gid("ExternalUser", ours["id"]),
                                             "dana@both.example")]), fragment
    assert found(await _list(api, rival, search="riverside")) == [
        (gid("ExternalUser", theirs["id"]), "dana@both.example")]


async def test_the_list_is_paginated_by_email(api, org, make):
    for n in range(5):
        await make.external(org.id, [], email=f"user{n}@client.example")

    pages, after = [], None
    while True:
        page = await _list(api, org, first=2, after=after)
        pages.append([e["node"]["email"].split("@")[0] for e in page["edges"]])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert pages == [["user0", "user1"], ["user2", "user3"], ["user4"]]


async def test_the_list_shows_only_this_organizations_external_users(api, org, make):
    other = await make.organization()
    their_customer = await make.customer(other)
    await make.external(other, [their_customer], email="theirs@client.example")
    await make.external(org.id, [], email="ours@client.example")

    listed = await _list(api, org)

    assert [e["node"]["email"] for e in listed["edges"]] == ["ours@client.example"]


async def test_a_customer_shows_its_active_external_users_and_pending_invitations(api, org,
                                                                                  make):
    await signed_up(api, org, "ana@client.example", "Riverside Council", "Harbour Works")
    await invited(api, org, "pending@client.example", "Riverside Council")
    await invited(api, org, "elsewhere@client.example", "Northgate Park")

    view = only(await api(CUSTOMER_VIEW, {"id": org.customer("Riverside Council")},
                          token=org.token))

    assert view["externalUsers"] == [{"email": "ana@client.example", "status": "ACTIVE",
                                      "customers": [{"name": "Harbour Works"},
                                                    {"name": "Riverside Council"}]}]
    assert view["pendingInvitations"] == [{"email": "pending@client.example",
                                           "status": "PENDING", "emailStatus": "QUEUED"}]


async def test_accepted_and_cancelled_invitations_leave_the_pending_list_expired_stay(
        api, org, sessionmaker):
    accepted = await invited(api, org, "a@client.example", "Riverside Council")
    await accept(api, token_of(accepted["inviteUrl"]))
    await invited(api, org, "expired@client.example", "Riverside Council")
    await sql(sessionmaker, "UPDATE invitations SET expires_at = now() - interval '1 day' "
                            "WHERE email_normalized = 'expired@client.example'")

    view = only(await api(CUSTOMER_VIEW, {"id": org.customer("Riverside Council")},
                          token=org.token))

    assert [(i["email"], i["status"]) for i in view["pendingInvitations"]] == [
        ("expired@client.example", "EXPIRED")]


async def test_node_fetches_external_users_invitations_and_audit_events(api, org,
                                                                        sessionmaker):
    _, invitation_id = await signed_up(api, org, "ana@client.example", "Riverside Council")
    user_id = await external_user_id(sessionmaker, org, "ana@client.example")
    audit = only(await api("{ auditEvents(first: 1) { edges { node { id } } } }",
                           token=org.token))["edges"][0]["node"]["id"]

    user = only(await api(NODE, {"id": user_id}, token=org.token))
    invitation = only(await api(NODE, {"id": invitation_id}, token=org.token))
    event = only(await api(NODE, {"id": audit}, token=org.token))

    assert user == {"__typename": "ExternalUser", "id": user_id,
                    "email": "ana@client.example", "userStatus": "ACTIVE"}
    assert invitation == {"__typename": "Invitation", "id": invitation_id,
                          "email": "ana@client.example", "invitationStatus": "ACCEPTED",
                          "invitedBy": {"email": org.admin["email"]}}
    assert event["__typename"] == "AuditEvent" and event["action"] == "INVITATION_ACCEPTED"
    assert only(await api(NODE, {"id": gid("ExternalUser", uuid.uuid4())},
                          token=org.token)) is None
