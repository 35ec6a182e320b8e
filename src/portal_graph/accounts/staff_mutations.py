"""Staff logins, by admins: invite a member (they set their own password on accepting),
change a member's role, deactivate and reactivate them. None of these is open to API tokens:
managing who can sign in needs a signed-in admin."""

from __future__ import annotations

import strawberry

from portal_graph.accounts import staff
from portal_graph.accounts.types import Role, StaffMember
from portal_graph.actor import Actor
from portal_graph.capabilities import MANAGE_STAFF
from portal_graph.graphql.core.context import Context, Info
from portal_graph.graphql.core.payloads import mutation, payload
from portal_graph.graphql.core.relay import parse_id
from portal_graph.invitations import service as invitations
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


def _actor(ctx: Context) -> Actor:
    return Actor.of(ctx.viewer, ctx.client_address)


@strawberry.type
class StaffMutations:
    @mutation(payload=CreateStaffMemberPayload, rule=MANAGE_STAFF, description=(
        "Invite a person to join the staff with a role: the same invitation, email, link, "
        "expiry, resend, cancel and audit as external invitations. No password: the person "
        "sets it (or proves the one they have) on accepting."))
    async def create_staff_member(self, info: Info,
                                  input: CreateStaffMemberInput) -> CreateStaffMemberPayload:
        ctx = info.context
        await ctx.runtime.rate_guard.invite(ctx.viewer.organization_id)
        issued = await invitations.invite_staff(
            ctx.session, ctx.scope, _actor(ctx),
            invitations.Mail(ctx.settings, ctx.runtime.box),
            email=input.email, name=input.name, role=input.role)
        return CreateStaffMemberPayload(invitation=Invitation.from_row(issued.invitation),
                                        invite_url=issued.invite_url)

    @mutation(payload=SetStaffRolePayload, rule=MANAGE_STAFF, description=(
        "Change a member's role; it applies to their next request. The last active admin "
        "cannot be demoted (LAST_ADMIN)."))
    async def set_staff_role(self, info: Info, input: SetStaffRoleInput) -> SetStaffRolePayload:
        ctx = info.context
        row = await staff.set_role(
            ctx.session, ctx.scope, _actor(ctx), role=input.role,
            staff_member_id=parse_id(input.staff_member_id, "StaffMember"))
        return SetStaffRolePayload(staff_member=StaffMember.from_row(row))

    @mutation(payload=DeactivateStaffMemberPayload, rule=MANAGE_STAFF, description=(
        "Deactivate a member: from their next request they act for nobody here, and their "
        "sessions and API tokens here end. The last active admin cannot be (LAST_ADMIN)."))
    async def deactivate_staff_member(self, info: Info,
                                      input: StaffMemberInput) -> DeactivateStaffMemberPayload:
        ctx = info.context
        row = await staff.deactivate(
            ctx.session, ctx.scope, _actor(ctx),
            staff_member_id=parse_id(input.staff_member_id, "StaffMember"))
        return DeactivateStaffMemberPayload(staff_member=StaffMember.from_row(row))

    @mutation(payload=ReactivateStaffMemberPayload, rule=MANAGE_STAFF,
              description="Let a deactivated member sign in here again.")
    async def reactivate_staff_member(self, info: Info,
                                      input: StaffMemberInput) -> ReactivateStaffMemberPayload:
        ctx = info.context
        row = await staff.reactivate(
            ctx.session, ctx.scope, _actor(ctx),
            staff_member_id=parse_id(input.staff_member_id, "StaffMember"))
        return ReactivateStaffMemberPayload(staff_member=StaffMember.from_row(row))
