"""Customers: created by staff, listed by name, searched; external users cannot write them."""

from __future__ import annotations

import pytest

from portal_graph.db import models

CREATE_CUSTOMER = """mutation($name: String!) { createCustomer(input: {name: $name})
  { customer { id name } userErrors { code field message } } }"""


@pytest.fixture
async def staff_token(make):
    org = await make.organization()
    staff = await make.staff(org, role=models.Role.USER, email="tech@example.com")
    return org, await make.session_token(org, staff["person"]["id"])


async def test_staff_create_a_customer(api, staff_token):
    _, token = staff_token

    result = await api(CREATE_CUSTOMER, {"name": "Riverside Council"}, token=token)

    payload = result["data"]["createCustomer"]
    assert payload["userErrors"] == []
    assert payload["customer"]["name"] == "Riverside Council"


async def test_customers_are_listed_by_name_and_searchable(api, make, staff_token):
    org, token = staff_token
    for name in ("Zeta Farms", "alpha school", "Beta Council"):
        await make.customer(org, name=name)

    listed = await api("{ customers { edges { node { name } } } }", token=token)
    searched = await api('{ customers(search: "COUN") { edges { node { name } } } }',
                         token=token)

    assert [e["node"]["name"] for e in listed["data"]["customers"]["edges"]] == \
        ["Beta Council", "Zeta Farms", "alpha school"]
    assert [e["node"]["name"] for e in searched["data"]["customers"]["edges"]] == \
        ["Beta Council"]


async def test_external_users_cannot_create_customers(api, make):
    org = await make.organization()
    customer = await make.customer(org)
    external = await make.external(org, [customer])
    token = await make.session_token(org, external["person"]["id"])

    result = await api(CREATE_CUSTOMER, {"name": "Mine now"}, token=token)

    assert result["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "data" not in result
