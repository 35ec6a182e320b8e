"""Capabilities agree with outcomes: what `Viewer.capabilities` and the `viewerCan…` fields say a
viewer may do is exactly what the mutations then let them do.

The authorization matrix (test_authorization_matrix.py) is the reference: for every mutation row
and every column, `allowedMutations` lists the mutation if and only if the matrix outcome is not
a denial (UNAUTH, FORBID). The object fields are checked against their mutation's row the same
way, and against a state that refuses (an accepted invitation, an archived customer): there the
field says false and the mutation answers a userError. API tokens, the column the matrix does
not have, are walked over every mutation of the matrix too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from portal_graph.capabilities import RULES
from portal_graph.graphql.core.audiences import RULE_KEY, rule_of
from portal_graph.graphql.schema import Mutation
from portal_graph.scope import ANONYMOUS
from tests.permissions.conftest import AUDIENCES, Cast
from tests.permissions.test_authorization_matrix import (
    DENIALS,
    MATRIX,
    Row,
    given,
    id_of,
)

ALLOWED = "{ me { capabilities { allowedMutations } } }"
MAKE_TOKEN = 'mutation { createApiToken(input: {name: "integration"}) { token } }'
MUTATION_ROWS = [row for row in MATRIX if row.operation.startswith("Mutation.")]


def mutation_name(row: Row) -> str:
    return row.operation.removeprefix("Mutation.")


def denied(result: dict[str, Any]) -> bool:
    """Refused before it ran: a validation or permission error, no data."""
    return result.get("data") is None and bool(result.get("errors"))


def test_every_mutation_enforces_a_rule_of_capabilities_py():
    fields = Mutation.__strawberry_definition__.fields

    unnamed = sorted(f.python_name for f in fields if not (f.metadata or {}).get(RULE_KEY))

    assert unnamed == [], "give these mutations a rule from portal_graph/capabilities.py"
    assert {rule_of(f) for f in fields} <= set(RULES)


async def allowed_for(api: Any, cast: Cast, audience: str) -> set[str]:
    if cast.tokens[audience] is None:  # anonymous: no `me`, so the rules themselves
        return {mutation_name(row) for row in MUTATION_ROWS
                if rule_of(_field(mutation_name(row))).allows(ANONYMOUS)}
    result = await api(ALLOWED, token=cast.tokens[audience])
    assert "errors" not in result, result
    return set(result["data"]["me"]["capabilities"]["allowedMutations"])


def _field(name: str) -> Any:
    return next(f for f in Mutation.__strawberry_definition__.fields
                if f.python_name == "".join("_" + c.lower() if c.isupper() else c
                                            for c in name))


@pytest.mark.parametrize("audience", AUDIENCES)
async def test_allowed_mutations_are_exactly_those_the_matrix_lets_through(api, cast, audience):
    allowed = await allowed_for(api, cast, audience)

    disagreements = [
        f"{row.operation} [{row.case}]: capability {mutation_name(row) in allowed}, "
        f"outcome {row.outcomes()[audience]}"
        for row in MUTATION_ROWS
        if (mutation_name(row) in allowed) != (row.outcomes()[audience] not in DENIALS)]

    assert disagreements == []


async def test_an_api_tokens_capabilities_are_exactly_what_it_may_call(api, cast):
    """Every mutation row, called with the admin's API token in the admin's column's input."""
    token = (await api(MAKE_TOKEN, token=cast.tokens["admin"]))["data"]["createApiToken"]["token"]
    allowed = await allowed_for(api, Cast(**{**cast.__dict__, "tokens": {"admin": token}}),
                                "admin")

    disagreements = []
    for row in MUTATION_ROWS:
        result = await api(row.document, row.variables(cast), token=token)
        if (mutation_name(row) in allowed) == denied(result):
            disagreements.append(f"{row.operation}: capability {mutation_name(row) in allowed}, "
                                 f"answer {result}")

    assert disagreements == []
    assert "createApiToken" not in allowed and "updateJob" in allowed


@dataclass(frozen=True)
class ObjectCapability:
    field: str  # Type.viewerCanX
    query: str
    variables: Any
    path: tuple[str, ...]
    mutation: str  # the matrix row it stands for: operation and case
    case: str


OBJECT_CAPABILITIES = [
    ObjectCapability("Customer.viewerCanManageExternalUsers",
                     "query($id: ID!) { customer(id: $id) { viewerCanManageExternalUsers } }",
                     id_of("c1"), ("customer", "viewerCanManageExternalUsers"),
                     "Mutation.inviteExternalUser", "to C1"),
    ObjectCapability("Job.viewerCanUpdate",
                     "query($id: ID!) { job(id: $id) { viewerCanUpdate } }",
                     id_of("j2"), ("job", "viewerCanUpdate"), "Mutation.updateJob", "J2"),
    ObjectCapability("Invitation.viewerCanResend",
                     "query($id: ID!) { node(id: $id) { ... on Invitation { viewerCanResend } } }",
                     id_of("i1"), ("node", "viewerCanResend"), "Mutation.resendInvitation",
                     "I1"),
    ObjectCapability("Invitation.viewerCanRevoke",
                     "query($id: ID!) { node(id: $id) { ... on Invitation { viewerCanRevoke } } }",
                     id_of("i1"), ("node", "viewerCanRevoke"), "Mutation.revokeInvitation",
                     "I1"),
    ObjectCapability("ExternalUser.viewerCanRevoke",
                     "query($id: ID!) { node(id: $id) { ... on ExternalUser "
                     "{ viewerCanRevoke } } }",
                     id_of("external_user"), ("node", "viewerCanRevoke"),
                     "Mutation.revokeAllExternalAccess", "external user"),
]


def matrix_row(operation: str, case: str) -> Row:
    return next(r for r in MATRIX if r.operation == operation and r.case == case)


def value_at(data: dict[str, Any] | None, path: tuple[str, ...]) -> Any:
    for key in path:
        if data is None:
            return None
        data = data[key]
    return data


@pytest.mark.parametrize("capability", OBJECT_CAPABILITIES, ids=lambda c: c.field)
@pytest.mark.parametrize("audience", [a for a in AUDIENCES if a != "anonymous"])
async def test_each_viewer_can_field_agrees_with_its_mutation(api, cast, capability, audience):
    outcome = matrix_row(capability.mutation, capability.case).outcomes()[audience]

    result = await api(capability.query, capability.variables(cast), token=cast.tokens[audience])

    if outcome in DENIALS:  # the field is not theirs either, or it says no
        assert denied(result) or value_at(result["data"], capability.path) is False, result
    elif outcome == "ok":
        assert value_at(result["data"], capability.path) is True, result
    else:  # another organization's object: not visible, so nothing to be capable of
        assert outcome == "NOT_FOUND"
        assert value_at(result["data"], capability.path) is None, result


INVITATION_CAPABILITIES = """query($id: ID!) { node(id: $id) {
  ... on Invitation { viewerCanResend viewerCanRevoke } } }"""
RESEND = matrix_row("Mutation.resendInvitation", "I1")
ARCHIVE = matrix_row("Mutation.archiveCustomer", "C2")
INVITE = matrix_row("Mutation.inviteExternalUser", "to C1")


async def test_a_cancelled_invitation_can_be_neither_resent_nor_cancelled_and_says_so(
        api, cast):
    admin = cast.tokens["admin"]
    await api(matrix_row("Mutation.revokeInvitation", "I1").document,
              given(invitationId="$i1")(cast), token=admin)

    capabilities = (await api(INVITATION_CAPABILITIES, id_of("i1")(cast), token=admin))
    resend = await api(RESEND.document, RESEND.variables(cast), token=admin)

    assert capabilities["data"]["node"] == {"viewerCanResend": False, "viewerCanRevoke": False}
    assert [e["code"] for e in resend["data"]["resendInvitation"]["userErrors"]] == [
        "INVITATION_NOT_PENDING"]


async def test_an_archived_customer_cannot_be_managed_and_says_so(api, cast):
    admin = cast.tokens["admin"]
    await api(ARCHIVE.document, given(customerId="$c1")(cast), token=admin)

    can = await api("query($id: ID!) { customer(id: $id) { viewerCanManageExternalUsers } }",
                    id_of("c1")(cast), token=admin)
    invite = await api(INVITE.document, INVITE.variables(cast), token=admin)

    assert can["data"]["customer"]["viewerCanManageExternalUsers"] is False
    assert [e["code"] for e in invite["data"]["inviteExternalUser"]["userErrors"]] == [
        "CUSTOMER_ARCHIVED"]


async def test_the_global_capabilities_of_each_staff_role(api, cast):
    query = """{ me { capabilities { editWork archiveCustomers manageExternalUsers manageStaff
      changeSettings manageOwnCredentials } } }"""

    answers = {a: (await api(query, token=cast.tokens[a]))["data"]["me"]["capabilities"]
               for a in ("user", "manager", "admin")}

    assert answers["user"] == answers["manager"] == {
        "editWork": True, "archiveCustomers": False, "manageExternalUsers": False,
        "manageStaff": False, "changeSettings": False, "manageOwnCredentials": True}
    assert set(answers["admin"].values()) == {True}
