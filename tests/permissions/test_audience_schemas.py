"""Audience schemas: what each audience's introspection shows, and that a query naming anything
else is refused at validation before any SQL: FORBIDDEN for staff, and for anonymous callers
and external users exactly the error of a name that does not exist (see
test_hidden_means_unknown.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from graphql import GraphQLInterfaceType, GraphQLObjectType, build_schema
from sqlalchemy import event

from portal_graph.cli import main
from portal_graph.graphql.schema import audience_schema, full_schema
from portal_graph.scope import Audience
from tests.conftest import without_cost

INTROSPECTION = "{ __schema { types { name fields { name } } } }"

# Staff-only and admin-only fields, named as Type.field: what external users must not see.
STAFF_ONLY = {"Job.price", "Job.internalNotes", "Job.assignedStaff", "MapCapture.capturedBy",
              "Query.staffMembers",
              "Customer.createdAt", "Mutation.createCustomer", "Mutation.createAsset",
              "Mutation.createJob", "Mutation.setJobStatus", "Mutation.createMapCapture",
              "Mutation.updateCustomer", "Mutation.updateJob", "Mutation.updateAsset",
              "Mutation.updateMapCapture", "Mutation.deleteMapCapture",
              "Customer.updatedAt", "Customer.archivedAt",
              "Customer.viewerCanManageExternalUsers", "Job.updatedAt", "Job.viewerCanUpdate",
              "Asset.updatedAt", "MapCapture.updatedAt", "ViewerCapabilities.editWork",
              "ViewerCapabilities.archiveCustomers", "ViewerCapabilities.manageExternalUsers",
              "ViewerCapabilities.manageStaff", "ViewerCapabilities.changeSettings"}
ADMIN_ONLY = {"Mutation.createStaffMember", "Mutation.setStaffRole",
              "Mutation.deactivateStaffMember", "Mutation.reactivateStaffMember",
              "Mutation.updateOrganizationSettings",
              "Organization.invitationTtlDays", "Query.externalUsers", "Query.invitations",
              "Query.auditEvents", "Customer.externalUsers", "Customer.pendingInvitations",
              "Mutation.inviteExternalUser", "Mutation.resendInvitation",
              "Mutation.revokeInvitation", "Mutation.revokeExternalAccess",
              "Mutation.revokeAllExternalAccess", "Mutation.setExternalUserCustomers",
              "Mutation.archiveCustomer"}
STAFF_TYPES = {"StaffMember", "ExternalUser", "Invitation", "AuditEvent"}
ADMIN_TYPES = {"ExternalUser", "Invitation", "AuditEvent"}


def shown_fields(result: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(type names, Type.field names) in an introspection result."""
    types = [t for t in result["data"]["__schema"]["types"] if not t["name"].startswith("__")]
    return ({t["name"] for t in types},
            {f"{t['name']}.{f['name']}" for t in types for f in t["fields"] or ()})


async def introspect(api: Any, cast: Any, audience: str) -> tuple[set[str], set[str]]:
    result = await api(INTROSPECTION, token=cast.tokens[audience])
    assert "errors" not in result, result
    return shown_fields(result)


async def test_anonymous_callers_see_only_signing_in_the_invitation_and_reset_pages(api, cast):
    types, fields = await introspect(api, cast, "anonymous")

    roots = {f for f in fields if f.startswith(("Query.", "Mutation."))}
    assert roots == {"Query.me", "Query.invitationPreview", "Mutation.login",
                     "Mutation.acceptInvitation", "Mutation.requestPasswordReset",
                     "Mutation.resetPassword"}
    assert not types & {"Customer", "Job", "MapCapture", "Asset", "Node", *STAFF_TYPES}


@pytest.mark.parametrize("audience", ["external", "external_no_grants"])
async def test_external_users_see_no_staff_or_admin_field(api, cast, audience):
    types, fields = await introspect(api, cast, audience)

    assert fields & (STAFF_ONLY | ADMIN_ONLY) == set()
    assert types & STAFF_TYPES == set()
    hidden = await api('{ __type(name: "StaffMember") { name } }', token=cast.tokens[audience])
    assert without_cost(hidden) == {"data": {"__type": None}}
    assert {"Query.customers", "Query.jobs", "Query.mapCaptures", "Query.node", "Job.title",
            "Customer.jobs", "Customer.assets", "MapCapture.job"} <= fields


@pytest.mark.parametrize("audience", ["user", "manager"])
async def test_staff_see_staff_fields_but_no_admin_field(api, cast, audience):
    types, fields = await introspect(api, cast, audience)

    assert STAFF_ONLY <= fields
    assert fields & ADMIN_ONLY == set()
    assert types & ADMIN_TYPES == set()
    assert "StaffMember" in types


@pytest.mark.parametrize("audience", ["admin", "other_admin"])
async def test_admins_see_every_field(api, cast, audience):
    types, fields = await introspect(api, cast, audience)

    assert STAFF_ONLY | ADMIN_ONLY <= fields
    assert STAFF_TYPES <= types


# --- refused at validation, before any SQL -------------------------------------------------

X = '"eA"'  # any id: the document never gets far enough to look it up
UNKNOWN = "GRAPHQL_VALIDATION_FAILED"  # what a name that does not exist gets
REFUSED = [
    # (who, document, expected extensions.code)
    ("anonymous", "{ customers { totalCount } }", UNKNOWN),
    ("anonymous", f"{{ node(id: {X}) {{ id }} }}", UNKNOWN),
    ("anonymous", f"{{ job(id: {X}) {{ title }} }}", UNKNOWN),
    ("anonymous", "mutation { logout { ended } }", UNKNOWN),
    ("anonymous", 'mutation { createCustomer(input: {name: "x"}) { customer { id } } }',
     UNKNOWN),
    ("anonymous", "{ me { organization { invitationTtlDays } } }", UNKNOWN),
    ("external", f"{{ job(id: {X}) {{ price }} }}", UNKNOWN),
    ("external", "{ jobs { edges { node { title internalNotes } } } }", UNKNOWN),
    ("external", "{ jobs { edges { node { assignedStaff { id } } } } }", UNKNOWN),
    ("external", "{ mapCaptures { nodes { capturedBy { email } } } }", UNKNOWN),
    ("external", "{ customers { nodes { createdAt } } }", UNKNOWN),
    ("external", "{ customers { nodes { externalUsers { id } pendingInvitations { id } } } }",
     UNKNOWN),
    ("external", "{ jobs { nodes { ...Money } } } fragment Money on Job { price }", UNKNOWN),
    ("external", f"{{ node(id: {X}) {{ ... on StaffMember {{ email }} }} }}", UNKNOWN),
    ("external", "{ externalUsers { totalCount } }", UNKNOWN),
    ("external", "{ invitations { totalCount } }", UNKNOWN),
    ("external", "{ auditEvents { totalCount } }", UNKNOWN),
    ("external", "{ me { organization { invitationTtlDays } } }", UNKNOWN),
    ("external", f'mutation {{ createJob(input: {{customerId: {X}, title: "t"}}) '
                 "{ job { id } } }", UNKNOWN),
    ("external", "mutation($input: CreateStaffMemberInput!) { createStaffMember(input: $input) "
                 "{ inviteUrl } }", UNKNOWN),
    ("external", "{ staffMembers { totalCount } }", UNKNOWN),
    ("manager", f"mutation {{ setStaffRole(input: {{staffMemberId: {X}, role: ADMIN}}) "
                "{ staffMember { id } } }", "FORBIDDEN"),
    ("user", f"mutation {{ deactivateStaffMember(input: {{staffMemberId: {X}}}) "
             "{ staffMember { id } } }", "FORBIDDEN"),
    ("external_no_grants", f'mutation {{ setJobStatus(input: {{jobId: {X}, status: COMPLETED}}) '
                           "{ job { id } } }", UNKNOWN),
    ("user", "{ externalUsers { totalCount } }", "FORBIDDEN"),
    ("user", "{ me { organization { invitationTtlDays } } }", "FORBIDDEN"),
    ("user", f'mutation {{ inviteExternalUser(input: {{email: "a@b.c", customerIds: [{X}]}}) '
             "{ inviteUrl } }", "FORBIDDEN"),
    ("manager", "mutation { updateOrganizationSettings(input: {invitationTtlDays: 3}) "
                "{ organization { name } } }", "FORBIDDEN"),
    ("manager", f"mutation {{ revokeAllExternalAccess(input: {{externalUserId: {X}}}) "
                "{ externalUser { id } } }", "FORBIDDEN"),
    ("manager", "{ customers { nodes { pendingInvitations { id } } } }", "FORBIDDEN"),
]

# The transaction's opening (for the viewer lookup) and the lookup itself.
VIEWER_LOOKUP = ("set_config('app.organization_id'", "FROM sessions c", "FROM api_tokens c")


@contextmanager
def statements(runtime: Any) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    target = runtime.engine.sync_engine
    event.listen(target, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(target, "before_cursor_execute", record)


@pytest.mark.parametrize(("who", "document", "code"), REFUSED,
                         ids=[f"{who}:{document[:60]}" for who, document, _ in REFUSED])
async def test_a_hidden_field_is_refused_at_validation_and_runs_no_sql(
        api, cast, runtime, who, document, code):
    with statements(runtime) as ran:
        result = await api(document, token=cast.tokens[who])

    assert result.get("data") is None
    assert result["errors"], result
    assert {e["extensions"]["code"] for e in result["errors"]} == {code}, result
    assert all("Did you mean" not in e["message"] for e in result["errors"])
    # Only who is asking was looked up (with a token); nothing else ran.
    assert [s for s in ran if not any(lookup in s for lookup in VIEWER_LOOKUP)] == []
    assert len(ran) == (0 if who == "anonymous" else 2)


# --- the exported SDL -----------------------------------------------------------------------


def test_export_schema_prints_the_external_schema_a_subset_of_the_full_one(capsys):
    assert main(["export-schema", "--audience", "external"]) == 0
    sdl = capsys.readouterr().out

    external = build_schema(sdl)
    full = full_schema()._schema
    assert sdl == audience_schema(Audience.EXTERNAL).as_str().rstrip() + "\n"
    for name, type_ in external.type_map.items():
        assert name in full.type_map, name
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            assert set(type_.fields) <= set(full.type_map[name].fields), name  # type: ignore[attr-defined]
    fields = {f"{name}.{field}" for name, type_ in external.type_map.items()
              if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType)
              for field in type_.fields}
    assert fields & (STAFF_ONLY | ADMIN_ONLY) == set()
    assert not set(external.type_map) & STAFF_TYPES
    assert fields < {f"{name}.{field}" for name, type_ in full.type_map.items()
                     if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType)
                     for field in type_.fields}
