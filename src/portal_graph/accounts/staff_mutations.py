"""Staff logins, by admins: invite a member (they set their own password on accepting),
change a member's role, deactivate and reactivate them. None of these is open to API tokens:
managing who can sign in needs a signed-in admin."""

from __future__ import annotations

import strawberry

from portal_graph.accounts import staff
from portal_graph.accounts.types import Role, StaffMember
from portal_graph.capabilities import MANAGE_STAFF
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.payloads import act_on, mutation, payload
from portal_graph.invitations import service as invitations
from portal_graph.invitations.mutations import issue_invitation
from portal_graph.invitations.types import Invitation


@strawberry.input
class CreateStaffMemberInput:
    email: str
    name: str | None = None
    role: Role  # type: ignore[valid-type]


@payload
class CreateStaffMemberPayload:
    invitation: Invitation | None = strawberry.field(default=None, description=(
        "The STAFF invitation: the person joins when they accept it."))
    invite_url: str | None = strawberry.field(default=None, description=(
        "The link to accept, shown only now: copy and send it if the email does not arrive. "
        "It proves nothing about the mailbox: an account that already exists joins only with "
        "its person's consent."))


@strawberry.input
class SetStaffRoleInput:
    staff_member_id: strawberry.ID
    role: Role  # type: ignore[valid-type]


@strawberry.input
class StaffMemberInput:
    staff_member_id: strawberry.ID


@payload
class SetStaffRolePayload:
    staff_member: StaffMember | None = None


@payload
class DeactivateStaffMemberPayload:
    staff_member: StaffMember | None = None


@payload
class ReactivateStaffMemberPayload:
    staff_member: StaffMember | None = None


@strawberry.type
class StaffMutations:
    @mutation(payload=CreateStaffMemberPayload, rule=MANAGE_STAFF, description=(
        "Invite a person to join the staff with a role: the same invitation, email, link, "
        "expiry, resend, cancel and audit as external invitations. No password: the person "
        "sets it (or proves the one they have) on accepting."))
    async def create_staff_member(self, info: Info,
                                  input: CreateStaffMemberInput) -> CreateStaffMemberPayload:
        return await issue_invitation(info, CreateStaffMemberPayload, invitations.invite_staff,
                                      email=input.email, name=input.name, role=input.role)

    @mutation(payload=SetStaffRolePayload, rule=MANAGE_STAFF, description=(
        "Change a member's role; it applies to their next request. The last active admin "
        "cannot be demoted (LAST_ADMIN)."))
    async def set_staff_role(self, info: Info, input: SetStaffRoleInput) -> SetStaffRolePayload:
        return SetStaffRolePayload(staff_member=await act_on(
            info, StaffMember, staff.set_role, input.staff_member_id, role=input.role))

    @mutation(payload=DeactivateStaffMemberPayload, rule=MANAGE_STAFF, description=(
        "Deactivate a member: from their next request they act for nobody here, and their "
        "sessions and API tokens here end. The last active admin cannot be (LAST_ADMIN)."))
    async def deactivate_staff_member(self, info: Info,
                                      input: StaffMemberInput) -> DeactivateStaffMemberPayload:
        return DeactivateStaffMemberPayload(staff_member=await act_on(
            info, StaffMember, staff.deactivate, input.staff_member_id))

    @mutation(payload=ReactivateStaffMemberPayload, rule=MANAGE_STAFF,
              description="Let a deactivated member sign in here again.")
    async def reactivate_staff_member(self, info: Info,
                                      input: StaffMemberInput) -> ReactivateStaffMemberPayload:
        return ReactivateStaffMemberPayload(staff_member=await act_on(
            info, StaffMember, staff.reactivate, input.staff_member_id))
