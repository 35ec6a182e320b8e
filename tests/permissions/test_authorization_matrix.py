"""The authorization matrix: every query and mutation (and every field narrower than its type),
tried by every audience on the cast's organization (see conftest.py). One row per probe, one
test per cell: `pytest -k "Query.job and external"` runs a column of one row.

Outcomes, per column:
    ok       no error and the value is there: an object, a non-empty list or connection, a
             mutation payload with no userErrors
    null     no error, null: out of scope looks exactly like absent
    empty    no error, an empty list or connection (totalCount 0)
    UNAUTH   (anonymous) refused at validation with exactly the error of a name that does not
             exist (GRAPHQL_VALIDATION_FAILED), no data: hidden means unknown
    FORBID   refused at validation, no data: for staff extensions.code FORBIDDEN; for external
             users, like UNAUTH, the error of a name that does not exist
    CODE     any other upper-case word: the mutation answers userErrors with that code
             (NOT_FOUND for another organization's ids, as for ids that do not exist)

Columns: anonymous, external (granted C1), external_no_grants, user, manager, admin, and the
admin of another organization trying this organization's ids.

Adding an operation is one row: `test_every_operation_has_a_row` fails until it has one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.factories import PASSWORD
from tests.permissions.conftest import AUDIENCES, Cast
from tests.permissions.schema_shape import declared_audiences
from tests.permissions.world import Role

NEW_PASSWORD = "a long and private passphrase"

NODE = "query($id: ID!) { node(id: $id) { id } }"
ME = "{ me { email } }"
API_TOKENS = "{ apiTokens { id } }"
CUSTOMERS = "{ customers { totalCount edges { node { id } } } }"
CUSTOMER = "query($id: ID!) { customer(id: $id) { id name } }"
JOBS = ("query($status: JobStatus, $customerId: ID) { jobs(status: $status, "
        "customerId: $customerId) { totalCount edges { node { id } } } }")
JOB = "query($id: ID!) { job(id: $id) { id title } }"
CAPTURES = ("query($customerId: ID) { mapCaptures(customerId: $customerId) "
            "{ totalCount edges { node { id } } } }")
EXTERNAL_USERS = "{ externalUsers { totalCount edges { node { id } } } }"
INVITATIONS = "{ invitations { totalCount edges { node { id } } } }"
AUDIT_EVENTS = "{ auditEvents { totalCount edges { node { id } } } }"
PREVIEW = "query($token: String!) { invitationPreview(token: $token) { email } }"
CUSTOMER_CREATED_AT = "query($id: ID!) { customer(id: $id) { createdAt } }"
CUSTOMER_EXTERNAL_USERS = "query($id: ID!) { customer(id: $id) { externalUsers { id } } }"
CUSTOMER_PENDING = "query($id: ID!) { customer(id: $id) { pendingInvitations { id } } }"
JOB_NOTES = "query($id: ID!) { job(id: $id) { internalNotes } }"
JOB_PRICE = "query($id: ID!) { job(id: $id) { price } }"
JOB_STAFF = "query($id: ID!) { job(id: $id) { assignedStaff { id } } }"
CAPTURED_BY = "query($id: ID!) { node(id: $id) { ... on MapCapture { capturedBy { id } } } }"
TTL = "{ me { organization { invitationTtlDays } } }"
STAFF_MEMBERS = "{ staffMembers { totalCount edges { node { id } } } }"
CUSTOMER_UPDATED_AT = "query($id: ID!) { customer(id: $id) { updatedAt } }"
CUSTOMER_ARCHIVED_AT = "query($id: ID!) { customer(id: $id) { archivedAt } }"
CUSTOMER_CAN_MANAGE = "query($id: ID!) { customer(id: $id) { viewerCanManageExternalUsers } }"
JOB_UPDATED_AT = "query($id: ID!) { job(id: $id) { updatedAt } }"
JOB_CAN_UPDATE = "query($id: ID!) { job(id: $id) { viewerCanUpdate } }"
NODE_UPDATED_AT = ("query($id: ID!) { node(id: $id) { ... on Asset { updatedAt } "
                   "... on MapCapture { updatedAt } } }")
CAPABILITIES = "{ me { capabilities { allowedMutations } } }"


def capability(name: str) -> str:
    return f"{{ me {{ capabilities {{ {name} }} }} }}"


def mutation(name: str, input_type: str | None, selection: str) -> str:
    if input_type is None:
        return f"mutation {{ {name} {{ {selection} userErrors {{ code }} }} }}"
    return (f"mutation($input: {input_type}!) {{ {name}(input: $input) "
            f"{{ {selection} userErrors {{ code }} }} }}")


LOGIN = mutation("login", "LoginInput", "token")
LOGOUT = mutation("logout", None, "ended")
SWITCH = mutation("switchOrganization", "SwitchOrganizationInput", "token")
CREATE_STAFF = mutation("createStaffMember", "CreateStaffMemberInput", "inviteUrl")
SET_STAFF_ROLE = mutation("setStaffRole", "SetStaffRoleInput", "staffMember { id }")
DEACTIVATE_STAFF = mutation("deactivateStaffMember", "StaffMemberInput", "staffMember { id }")
REACTIVATE_STAFF = mutation("reactivateStaffMember", "StaffMemberInput", "staffMember { id }")
CHANGE_PASSWORD = mutation("changePassword", "ChangePasswordInput", "changed")
UPDATE_PROFILE = mutation("updateProfile", "UpdateProfileInput", "viewer { name }")
REQUEST_RESET = mutation("requestPasswordReset", "RequestPasswordResetInput", "requested")
RESET_PASSWORD = mutation("resetPassword", "ResetPasswordInput", "reset")
CREATE_API_TOKEN = mutation("createApiToken", "CreateApiTokenInput", "token")
REVOKE_API_TOKEN = mutation("revokeApiToken", "RevokeApiTokenInput", "revoked")
SETTINGS = mutation("updateOrganizationSettings", "UpdateOrganizationSettingsInput",
                    "organization { name }")
CREATE_CUSTOMER = mutation("createCustomer", "CreateCustomerInput", "customer { id }")
CREATE_ASSET = mutation("createAsset", "CreateAssetInput", "asset { id }")
CREATE_JOB = mutation("createJob", "CreateJobInput", "job { id }")
SET_JOB_STATUS = mutation("setJobStatus", "SetJobStatusInput", "job { id }")
CREATE_CAPTURE = mutation("createMapCapture", "CreateMapCaptureInput", "mapCapture { id }")
INVITE = mutation("inviteExternalUser", "InviteExternalUserInput", "inviteUrl")
RESEND = mutation("resendInvitation", "ResendInvitationInput", "inviteUrl")
REVOKE_INVITATION = mutation("revokeInvitation", "RevokeInvitationInput", "invitation { id }")
ACCEPT = mutation("acceptInvitation", "AcceptInvitationInput", "token")
REVOKE_ACCESS = mutation("revokeExternalAccess", "RevokeExternalAccessInput",
                         "externalUser { id }")
REVOKE_ALL = mutation("revokeAllExternalAccess", "RevokeAllExternalAccessInput",
                      "externalUser { id }")
SET_CUSTOMERS = mutation("setExternalUserCustomers", "SetExternalUserCustomersInput",
                         "externalUser { id }")
UPDATE_CUSTOMER = mutation("updateCustomer", "UpdateCustomerInput", "customer { id }")
ARCHIVE_CUSTOMER = mutation("archiveCustomer", "ArchiveCustomerInput", "customer { id }")
UPDATE_JOB = mutation("updateJob", "UpdateJobInput", "job { id }")
UPDATE_ASSET = mutation("updateAsset", "UpdateAssetInput", "asset { id }")
UPDATE_CAPTURE = mutation("updateMapCapture", "UpdateMapCaptureInput", "mapCapture { id }")
DELETE_CAPTURE = mutation("deleteMapCapture", "DeleteMapCaptureInput", "deletedMapCaptureId")

Variables = Callable[[Cast], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    operation: str  # Query.x, Mutation.x, or Type.field for a field narrower than its type
    case: str
    document: str
    variables: Variables
    expected: str  # one outcome per audience, in AUDIENCES order
    path: str | None = None  # where the value is, dotted; default: the one root field

    def outcomes(self) -> dict[str, str]:
        words = self.expected.split()
        assert len(words) == len(AUDIENCES), f"{self.operation} [{self.case}]: {words}"
        return dict(zip(AUDIENCES, words, strict=True))


def none(cast: Cast) -> dict[str, Any]:
    return {}


def id_of(name: str) -> Variables:
    return lambda cast: {"id": cast.ids[name]}


def given(**input_: Any) -> Variables:
    """An `input` whose values may name the cast's ids as "$c1", "$j2", ..."""
    def fill(value: Any, cast: Cast) -> Any:
        if isinstance(value, str) and value.startswith("$"):
            return cast.ids[value[1:]]
        if isinstance(value, list):
            return [fill(v, cast) for v in value]
        return value
    return lambda cast: {"input": {k: fill(v, cast) for k, v in input_.items()}}


def login_as_user(cast: Cast) -> dict[str, Any]:
    return {"input": {"email": cast.email("user"), "password": PASSWORD}}


def accept(token: str | None) -> Variables:
    return lambda cast: {"input": {"token": token or cast.invitation_token,
                                   "password": NEW_PASSWORD}}


R = Row
MATRIX = [
    # operation, case, document, variables,
    #     anonymous external no-grants user  manager admin  other-org admin
    R("Query.me", "", ME, none,
      "null      ok       ok        ok     ok     ok     ok"),
    R("Query.node", "customer granted to the external user", NODE, id_of("c1"),
      "UNAUTH    ok       null      ok     ok     ok     null"),
    R("Query.node", "customer granted to no one", NODE, id_of("c2"),
      "UNAUTH    null     null      ok     ok     ok     null"),
    R("Query.node", "scheduled job of a granted customer", NODE, id_of("j2"),
      "UNAUTH    null     null      ok     ok     ok     null"),
    R("Query.node", "asset of a completed granted job", NODE, id_of("a1"),
      "UNAUTH    ok       null      ok     ok     ok     null"),
    R("Query.node", "capture of a customer granted to no one", NODE, id_of("m2"),
      "UNAUTH    null     null      ok     ok     ok     null"),
    R("Query.node", "staff member", NODE, id_of("staff_user"),
      "UNAUTH    null     null      ok     ok     ok     null"),
    R("Query.node", "external user", NODE, id_of("external_user"),
      "UNAUTH    null     null      null   null   ok     null"),
    R("Query.node", "invitation", NODE, id_of("i1"),
      "UNAUTH    null     null      null   null   ok     null"),
    R("Query.node", "audit event", NODE, id_of("e1"),
      "UNAUTH    null     null      null   null   ok     null"),
    R("Query.node", "unknown id", NODE, id_of("unknown_job"),
      "UNAUTH    null     null      null   null   null   null"),
    R("Query.apiTokens", "", API_TOKENS, none,
      "UNAUTH    empty    empty     empty  empty  ok     empty"),
    R("Query.customers", "", CUSTOMERS, none,
      "UNAUTH    ok       empty     ok     ok     ok     empty"),
    R("Query.customer", "granted", CUSTOMER, id_of("c1"),
      "UNAUTH    ok       null      ok     ok     ok     null"),
    R("Query.customer", "granted to no one", CUSTOMER, id_of("c2"),
      "UNAUTH    null     null      ok     ok     ok     null"),
    R("Query.jobs", "all", JOBS, none,
      "UNAUTH    ok       empty     ok     ok     ok     empty"),
    R("Query.jobs", "status SCHEDULED", JOBS, lambda c: {"status": "SCHEDULED"},
      "UNAUTH    empty    empty     ok     ok     ok     empty"),
    R("Query.jobs", "customer granted to no one", JOBS, lambda c: {"customerId": c.ids["c2"]},
      "UNAUTH    empty    empty     ok     ok     ok     empty"),
    R("Query.job", "completed, granted", JOB, id_of("j1"),
      "UNAUTH    ok       null      ok     ok     ok     null"),
    R("Query.job", "scheduled, granted", JOB, id_of("j2"),
      "UNAUTH    null     null      ok     ok     ok     null"),
    R("Query.job", "completed, granted to no one", JOB, id_of("j3"),
      "UNAUTH    null     null      ok     ok     ok     null"),
    R("Query.mapCaptures", "all", CAPTURES, none,
      "UNAUTH    ok       empty     ok     ok     ok     empty"),
    R("Query.mapCaptures", "customer granted to no one", CAPTURES,
      lambda c: {"customerId": c.ids["c2"]},
      "UNAUTH    empty    empty     ok     ok     ok     empty"),
    R("Query.externalUsers", "", EXTERNAL_USERS, none,
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     empty"),
    R("Query.invitations", "", INVITATIONS, none,
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     empty"),
    R("Query.auditEvents", "", AUDIT_EVENTS, none,
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     empty"),
    R("Query.staffMembers", "", STAFF_MEMBERS, none,
      "UNAUTH    FORBID   FORBID    ok     ok     ok     ok"),
    R("Query.invitationPreview", "a pending invitation's token", PREVIEW,
      lambda c: {"token": c.invitation_token},
      "ok        ok       ok        ok     ok     ok     ok"),
    R("Query.invitationPreview", "unknown token", PREVIEW, lambda c: {"token": "pgi_nope"},
      "null      null     null      null   null   null   null"),
    # Fields narrower than their type.
    R("Customer.createdAt", "", CUSTOMER_CREATED_AT, id_of("c1"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     null", "customer.createdAt"),
    R("Customer.externalUsers", "", CUSTOMER_EXTERNAL_USERS, id_of("c1"),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     null", "customer.externalUsers"),
    R("Customer.pendingInvitations", "", CUSTOMER_PENDING, id_of("c1"),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     null", "customer.pendingInvitations"),
    R("Job.internalNotes", "", JOB_NOTES, id_of("j1"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     null", "job.internalNotes"),
    R("Job.price", "", JOB_PRICE, id_of("j1"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     null", "job.price"),
    R("Job.assignedStaff", "", JOB_STAFF, id_of("j1"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     null", "job.assignedStaff"),
    R("MapCapture.capturedBy", "", CAPTURED_BY, id_of("m1"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     null", "node.capturedBy"),
    R("Organization.invitationTtlDays", "", TTL, none,
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     ok", "me.organization.invitationTtlDays"),
    R("Customer.updatedAt", "", CUSTOMER_UPDATED_AT, id_of("c1"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     null", "customer.updatedAt"),
    R("Customer.archivedAt", "C1 is not archived", CUSTOMER_ARCHIVED_AT, id_of("c1"),
      "UNAUTH    FORBID   FORBID    null   null   null   null", "customer.archivedAt"),
    R("Customer.viewerCanManageExternalUsers", "", CUSTOMER_CAN_MANAGE, id_of("c1"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     null",
      "customer.viewerCanManageExternalUsers"),
    R("Job.updatedAt", "", JOB_UPDATED_AT, id_of("j1"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     null", "job.updatedAt"),
    R("Job.viewerCanUpdate", "", JOB_CAN_UPDATE, id_of("j1"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     null", "job.viewerCanUpdate"),
    R("Asset.updatedAt", "", NODE_UPDATED_AT, id_of("a1"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     null", "node.updatedAt"),
    R("MapCapture.updatedAt", "", NODE_UPDATED_AT, id_of("m1"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     null", "node.updatedAt"),
    R("Viewer.capabilities", "", CAPABILITIES, none,
      "UNAUTH    ok       ok        ok     ok     ok     ok", "me.capabilities"),
    *(R(f"ViewerCapabilities.{name}", "", capability(name), none,
        "UNAUTH  FORBID   FORBID    ok     ok     ok     ok", f"me.capabilities.{name}")
      for name in ("editWork", "archiveCustomers", "manageExternalUsers", "manageStaff",
                   "changeSettings")),
    # Mutations.
    R("Mutation.login", "as the organization's user", LOGIN, login_as_user,
      "ok        ok       ok        ok     ok     ok     ok"),
    R("Mutation.logout", "", LOGOUT, none,
      "UNAUTH    ok       ok        ok     ok     ok     ok"),
    R("Mutation.switchOrganization", "into this organization", SWITCH,
      given(organizationId="$org"),
      "UNAUTH    ok       ok        ok     ok     ok     NOT_FOUND"),
    R("Mutation.createStaffMember", "", CREATE_STAFF,
      given(email="new-member@example.com", role="USER"),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     ok"),
    R("Mutation.setStaffRole", "the user to MANAGER", SET_STAFF_ROLE,
      given(staffMemberId="$staff_user", role="MANAGER"),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     NOT_FOUND"),
    R("Mutation.deactivateStaffMember", "the user", DEACTIVATE_STAFF,
      given(staffMemberId="$staff_user"),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     NOT_FOUND"),
    R("Mutation.reactivateStaffMember", "the user", REACTIVATE_STAFF,
      given(staffMemberId="$staff_user"),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     NOT_FOUND"),
    R("Mutation.changePassword", "the right current password", CHANGE_PASSWORD,
      given(currentPassword=PASSWORD, newPassword=NEW_PASSWORD),
      "UNAUTH    ok       ok        ok     ok     ok     ok"),
    R("Mutation.updateProfile", "", UPDATE_PROFILE, given(name="A New Name"),
      "UNAUTH    ok       ok        ok     ok     ok     ok"),
    R("Mutation.requestPasswordReset", "the user's email", REQUEST_RESET,
      lambda cast: {"input": {"email": cast.email("user")}},
      "ok        ok       ok        ok     ok     ok     ok"),
    R("Mutation.resetPassword", "unknown token", RESET_PASSWORD,
      given(token="pgr_nope", password=NEW_PASSWORD),
      "INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN "
      "INVALID_TOKEN"),
    R("Mutation.createApiToken", "", CREATE_API_TOKEN, given(name="integration"),
      "UNAUTH    ok       ok        ok     ok     ok     ok"),
    R("Mutation.revokeApiToken", "the admin's token", REVOKE_API_TOKEN,
      given(apiTokenId="$api_token"),
      "UNAUTH    NOT_FOUND NOT_FOUND NOT_FOUND NOT_FOUND ok NOT_FOUND"),
    R("Mutation.updateOrganizationSettings", "", SETTINGS, given(invitationTtlDays=3),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     ok"),
    R("Mutation.createCustomer", "", CREATE_CUSTOMER, given(name="New Works"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     ok"),
    R("Mutation.createAsset", "for C1", CREATE_ASSET, given(customerId="$c1", name="Pump"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     NOT_FOUND"),
    R("Mutation.createJob", "for C1", CREATE_JOB, given(customerId="$c1", title="Mow"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     NOT_FOUND"),
    R("Mutation.setJobStatus", "J2", SET_JOB_STATUS, given(jobId="$j2", status="IN_PROGRESS"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     NOT_FOUND"),
    R("Mutation.createMapCapture", "for J1", CREATE_CAPTURE,
      given(customerId="$c1", jobId="$j1", latitude=51.5, longitude=-0.1),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     NOT_FOUND"),
    R("Mutation.updateCustomer", "C1", UPDATE_CUSTOMER, given(customerId="$c1", name="Renamed"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     NOT_FOUND"),
    R("Mutation.archiveCustomer", "C2", ARCHIVE_CUSTOMER, given(customerId="$c2"),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     NOT_FOUND"),
    R("Mutation.updateJob", "J2", UPDATE_JOB, given(jobId="$j2", title="Edge the lawn"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     NOT_FOUND"),
    R("Mutation.updateAsset", "A1", UPDATE_ASSET, given(assetId="$a1", location="Depot"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     NOT_FOUND"),
    R("Mutation.updateMapCapture", "M1", UPDATE_CAPTURE,
      given(mapCaptureId="$m1", note="Moved"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     NOT_FOUND"),
    R("Mutation.deleteMapCapture", "M2", DELETE_CAPTURE, given(mapCaptureId="$m2"),
      "UNAUTH    FORBID   FORBID    ok     ok     ok     NOT_FOUND"),
    R("Mutation.inviteExternalUser", "to C1", INVITE,
      given(email="new-contact@example.com", customerIds=["$c1"]),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     NOT_FOUND"),
    R("Mutation.resendInvitation", "I1", RESEND, given(invitationId="$i1"),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     NOT_FOUND"),
    R("Mutation.revokeInvitation", "I1", REVOKE_INVITATION, given(invitationId="$i1"),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     NOT_FOUND"),
    R("Mutation.acceptInvitation", "I1's token", ACCEPT, accept(None),
      "ok        ok       ok        ok     ok     ok     ok"),
    R("Mutation.acceptInvitation", "unknown token", ACCEPT, accept("pgi_nope"),
      "INVITATION_INVALID INVITATION_INVALID INVITATION_INVALID INVITATION_INVALID "
      "INVITATION_INVALID INVITATION_INVALID INVITATION_INVALID"),
    R("Mutation.revokeExternalAccess", "external user's C1", REVOKE_ACCESS,
      given(externalUserId="$external_user", customerId="$c1"),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     NOT_FOUND"),
    R("Mutation.revokeAllExternalAccess", "external user", REVOKE_ALL,
      given(externalUserId="$external_user"),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     NOT_FOUND"),
    R("Mutation.setExternalUserCustomers", "external user to C2", SET_CUSTOMERS,
      given(externalUserId="$external_user", customerIds=["$c2"]),
      "UNAUTH    FORBID   FORBID    FORBID FORBID ok     NOT_FOUND"),
]

DENIALS = ("UNAUTH", "FORBID")
# Their schemas do not have the name at all (docs/RULES.md, "hidden means unknown").
TOLD_NOTHING = ("anonymous", "external", "external_no_grants")


def denial_code(audience: str) -> str:
    return "GRAPHQL_VALIDATION_FAILED" if audience in TOLD_NOTHING else "FORBIDDEN"
CELLS = [pytest.param(row, audience, outcome,
                      id=f"{row.operation}[{row.case}]-{audience}" if row.case
                      else f"{row.operation}-{audience}")
         for row in MATRIX for audience, outcome in row.outcomes().items()]


def value_at(data: dict[str, Any], path: str | None) -> Any:
    if path is None:
        assert len(data) == 1, data
        return next(iter(data.values()))
    value: Any = data
    for key in path.split("."):
        if value is None:
            return None
        value = value[key]
    return value


def check(result: dict[str, Any], row: Row, outcome: str, audience: str) -> None:
    if outcome in DENIALS:
        assert result.get("data") is None, result
        assert result["errors"], result
        assert {e["extensions"]["code"] for e in result["errors"]} == {denial_code(audience)}, \
            result
        return
    assert "errors" not in result, result
    value = value_at(result["data"], row.path)
    if outcome == "null":
        assert value is None, value
        return
    items = value["edges"] if isinstance(value, dict) and "edges" in value else value
    if outcome == "empty":
        assert items == [], value
        if isinstance(value, dict):
            assert value["totalCount"] == 0, value
        return
    assert value is not None
    if outcome == "ok":
        if isinstance(value, dict) and "userErrors" in value:
            assert value["userErrors"] == [], value
            assert any(v not in (None, False) for k, v in value.items() if k != "userErrors")
        else:
            assert items not in ([], None), value
        return
    assert [e["code"] for e in value["userErrors"]] == [outcome], value
    assert all(v in (None, False) for k, v in value.items() if k != "userErrors"), value


@pytest.mark.parametrize(("row", "audience", "outcome"), CELLS)
async def test_authorization_matrix(api, cast, row, audience, outcome):
    result = await api(row.document, row.variables(cast), token=cast.tokens[audience])

    check(result, row, outcome, audience)


def test_every_operation_has_a_row():
    """Every root field, and every field narrower than its type, is in the matrix; and every
    row names something that exists."""
    from portal_graph.graphql.schema import full_schema

    schema = full_schema()._schema
    declared = declared_audiences()
    needed = {f"{t}.{f}" for t, f in declared if t in ("Query", "Mutation")}
    for (type_name, field_name), audiences in declared.items():
        definition = schema.type_map[type_name].extensions["strawberry-definition"]
        own = next((vars(c)["__audiences__"] for c in definition.origin.__mro__
                    if "__audiences__" in vars(c)), None)
        if own is not None and audiences != own:
            needed.add(f"{type_name}.{field_name}")
    rows = {row.operation for row in MATRIX}

    assert sorted(needed - rows) == [], "add a row to MATRIX for each of these"
    assert sorted(rows - needed) == [], "rows for operations that no longer exist"


def test_the_cast_has_every_column():
    assert set(AUDIENCES) == {"anonymous", "external", "external_no_grants", "user",
                              "manager", "admin", "other_admin"}
    assert Role.MANAGER and Role.USER  # staff of each role are columns of their own
