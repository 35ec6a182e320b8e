"""An admin's invitation costs the same statements whether or not the email has an account in
another organization (docs/RULES.md): the work, like the answer, says nothing about it."""

from __future__ import annotations

import pytest

from portal_graph.graphql.core.relay import to_global_id

CREATE_STAFF = """mutation($email: String!) { createStaffMember(input: {email: $email,
  role: USER}) { inviteUrl userErrors { code } } }"""
INVITE = """mutation($email: String!, $customer: ID!) { inviteExternalUser(input:
  {email: $email, customerIds: [$customer]}) { inviteUrl userErrors { code } } }"""


@pytest.mark.parametrize("document", [CREATE_STAFF, INVITE], ids=["staff", "external"])
async def test_inviting_an_email_with_an_account_runs_the_same_statements_as_one_without(
        counted_api, statements, make, document):
    acme, beta = await make.organization(), await make.organization()
    await make.staff(acme, email="victim@acme.test")
    admin = await make.staff(beta)
    token = await make.session_token(beta, admin["person"]["id"])
    customer = to_global_id("Customer", await make.customer(beta))

    runs = []
    for email in ("victim@acme.test", "nobody@acme.test"):
        statements.clear()
        result = await counted_api(document, {"email": email, "customer": customer},
                                   token=token)
        assert next(iter(result["data"].values()))["userErrors"] == []
        runs.append(list(statements.statements))

    assert runs[0] == runs[1]
