"""The audit log: a change to someone's access is recorded with who, whom, which customers and
from where, newest first; only the organization's admins read it, and only their own."""

from __future__ import annotations

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id

SET_CUSTOMERS = """mutation($user: ID!, $customers: [ID!]!) {
  setExternalUserCustomers(input: {externalUserId: $user, customerIds: $customers}) {
    userErrors { code } } }"""
REVOKE = """mutation($user: ID!, $customer: ID!) {
  revokeExternalAccess(input: {externalUserId: $user, customerId: $customer}) {
    userErrors { code } } }"""
AUDIT = """{ auditEvents(first: 10) { totalCount edges { node {
  action targetEmail clientAddress actor { email } customers { name } } } } }"""


async def _organization(make, name: str):
    org = await make.organization(name=name)
    admin = await make.staff(org, email=f"admin@{name.lower()}.test")
    return org, admin, await make.session_token(org, admin["person"]["id"])


async def test_access_changes_are_listed_newest_first_with_who_whom_and_what(api, make):
    # given an admin, and an external user granted one customer
    org, _, token = await _organization(make, "Evergreen")
    north = await make.customer(org, name="North Park")
    south = await make.customer(org, name="South Park")
    external = await make.external(org, [north], email="casey@client.test")
    user = to_global_id("ExternalUser", external["id"])

    # when the admin grants a second customer, then takes the first away
    granted = await api(SET_CUSTOMERS, {"user": user, "customers": [
        to_global_id("Customer", north), to_global_id("Customer", south)]}, token=token)
    revoked = await api(REVOKE, {"user": user, "customer": to_global_id("Customer", north)},
                        token=token)

    # then both are in the log, the newest first
    assert granted["data"]["setExternalUserCustomers"]["userErrors"] == []
    assert revoked["data"]["revokeExternalAccess"]["userErrors"] == []
    log = (await api(AUDIT, token=token))["data"]["auditEvents"]
    assert log["totalCount"] == 2
    assert [edge["node"] for edge in log["edges"]] == [
        {"action": "ACCESS_REVOKED", "targetEmail": "casey@client.test",
         "clientAddress": "203.0.113.7", "actor": {"email": "admin@evergreen.test"},
         "customers": [{"name": "North Park"}]},
        {"action": "CUSTOMERS_SET", "targetEmail": "casey@client.test",
         "clientAddress": "203.0.113.7", "actor": {"email": "admin@evergreen.test"},
         "customers": [{"name": "North Park"}, {"name": "South Park"}]},
    ]


async def test_an_admin_reads_only_their_own_organizations_log(api, make):
    org, _, token = await _organization(make, "Evergreen")
    customer = await make.customer(org)
    external = await make.external(org, [customer])
    await api(REVOKE, {"user": to_global_id("ExternalUser", external["id"]),
                       "customer": to_global_id("Customer", customer)}, token=token)
    _, _, other_token = await _organization(make, "Elsewhere")

    theirs = await api(AUDIT, token=other_token)

    assert theirs["data"]["auditEvents"] == {"totalCount": 0, "edges": []}


async def test_staff_who_are_not_admins_cannot_read_the_log(api, make):
    org = await make.organization()
    member = await make.staff(org, role=models.Role.USER)
    token = await make.session_token(org, member["person"]["id"])

    result = await api(AUDIT, token=token)

    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert result.get("data") is None
