"""The accounts' mutations: signing in and out, switching organization, API tokens and
settings; a person's own account (password, name, "forgot password"); and staff logins, which
admins invite, change the role of, deactivate and reactivate.

None of them is open to API tokens (NotByApiToken): a token reads and writes as its owner but
cannot sign in, switch, mint tokens or sessions, change its owner's credentials or manage who can
sign in (docs/RULES.md).
"""

from __future__ import annotations

import dataclasses

import strawberry

from portal_graph.accounts import recovery, self_service, service, staff
from portal_graph.accounts.types import (
    ApiToken,
    Organization,
    OrganizationMembership,
    Role,
    StaffMember,
    Viewer,
    memberships,
)
from portal_graph.accounts.viewer import build_viewer, viewer_of_session
from portal_graph.auth import repository as auth_repo
from portal_graph.auth import service as auth
from portal_graph.capabilities import CHANGE_SETTINGS, MANAGE_STAFF, OWN_CREDENTIALS, SIGN_IN
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.payloads import UserError, act_on, mutation, payload
from portal_graph.graphql.core.relay import parse_id
from portal_graph.invitations import service as invitations
from portal_graph.invitations.mutations import issue_invitation
from portal_graph.invitations.types import Invitation
from portal_graph.problems import Rejected, UserErrorCode, not_found
from portal_graph.scope import Viewer as ViewerState


@strawberry.input
class LoginInput:
    email: str
    password: str
    organization_id: strawberry.ID | None = strawberry.field(
        default=None, description="Needed when the person belongs to several organizations.")


@payload
class LoginPayload:
    token: str | None = strawberry.field(
        default=None, description="Send as `Authorization: Bearer <token>`.")
    viewer: Viewer | None = None
    organizations: list[OrganizationMembership] | None = strawberry.field(
        default=None, description="With ORGANIZATION_REQUIRED (and only after the password "
        "was right): the organizations to choose from; log in again with one.")
    # Declared here too: this payload is also made with userErrors by the resolver itself.
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SwitchOrganizationInput:
    organization_id: strawberry.ID


@payload
class LogoutPayload:
    ended: bool = False


@strawberry.input
class CreateApiTokenInput:
    name: str
    expires_in_days: int | None = 90


@payload
class CreateApiTokenPayload:
    api_token: ApiToken | None = None
    token: str | None = strawberry.field(default=None,
                                         description="Shown once; only its hash is stored.")


@strawberry.input
class RevokeApiTokenInput:
    api_token_id: strawberry.ID


@payload
class RevokeApiTokenPayload:
    revoked: bool = False


@strawberry.input
class UpdateOrganizationSettingsInput:
    invitation_ttl_days: int


@payload
class UpdateOrganizationSettingsPayload:
    organization: Organization | None = None


def _organization_id(raw: strawberry.ID | None) -> object:
    if raw is None:
        return None
    parsed = parse_id(raw, "Organization")
    if parsed is None:
        raise Rejected(UserErrorCode.INVALID_CREDENTIALS, auth.BAD_LOGIN)
    return parsed


@strawberry.type
class AccountMutations:
    @mutation(payload=LoginPayload, rule=SIGN_IN,
              description="Sign in; returns a bearer token.")
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        ctx = info.context
        await ctx.runtime.rate_guard.login(ctx.client_address, input.email)
        try:
            result = await auth.login(
                ctx.session, ctx.settings, email=input.email, password=input.password,
                organization_id=_organization_id(input.organization_id),  # type: ignore[arg-type]
                client_address=ctx.client_address)
        except auth.OrganizationRequired as required:
            return LoginPayload(organizations=memberships(required.choices),
                                user_errors=[UserError.from_problem(p)
                                             for p in required.problems])
        return LoginPayload(token=result.token,
                            viewer=await viewer_of_session(info, result.token))

    @mutation(rule=OWN_CREDENTIALS,
              description="End this session (and any session switched from it).")
    async def logout(self, info: Info) -> LogoutPayload:
        return LogoutPayload(ended=await auth.logout(info.context.session, info.context.viewer))

    @mutation(payload=LoginPayload, rule=OWN_CREDENTIALS, description=(
        "Act in another of your organizations: a new session, minted by this one (which "
        "ends); ending what this one derives from ends it too."))
    async def switch_organization(self, info: Info,
                                  input: SwitchOrganizationInput) -> LoginPayload:
        ctx = info.context
        target = parse_id(input.organization_id, "Organization")
        if target is None:
            raise not_found("Organization", "organizationId")
        result = await auth.switch_organization(ctx.session, ctx.settings, ctx.viewer,
                                                target, ctx.client_address)
        return LoginPayload(token=result.token,
                            viewer=await viewer_of_session(info, result.token))

    @mutation(payload=CreateApiTokenPayload, rule=OWN_CREDENTIALS,
              description="A personal API token for an integration.")
    async def create_api_token(self, info: Info,
                               input: CreateApiTokenInput) -> CreateApiTokenPayload:
        ctx = info.context
        row, token = await auth.create_api_token(ctx.session, ctx.viewer, name=input.name,
                                                 expires_in_days=input.expires_in_days)
        return CreateApiTokenPayload(api_token=ApiToken.from_row(row), token=token)

    @mutation(payload=RevokeApiTokenPayload, rule=OWN_CREDENTIALS,
              description="Revoke one of your API tokens.")
    async def revoke_api_token(self, info: Info,
                               input: RevokeApiTokenInput) -> RevokeApiTokenPayload:
        ctx = info.context
        token_id = parse_id(input.api_token_id, "ApiToken")
        viewer: ViewerState = ctx.viewer
        if token_id is None or not await auth_repo.revoke_api_token(
                ctx.session, ctx.scope, viewer.person_id,  # type: ignore[arg-type]
                token_id):
            raise not_found("API token", "apiTokenId")
        return RevokeApiTokenPayload(revoked=True)

    @mutation(payload=UpdateOrganizationSettingsPayload,
              rule=CHANGE_SETTINGS, description="Change organization settings.")
    async def update_organization_settings(
        self, info: Info, input: UpdateOrganizationSettingsInput,
    ) -> UpdateOrganizationSettingsPayload:
        ctx = info.context
        row = await service.set_invitation_ttl(ctx.session, ctx.scope,
                                               input.invitation_ttl_days)
        return UpdateOrganizationSettingsPayload(organization=Organization.from_row(row))


# A person's own account: the password or the name (signed in), "forgot password" (anonymous).


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@payload
class ChangePasswordPayload:
    changed: bool = False
    other_sessions_ended: int = 0


@strawberry.input
class UpdateProfileInput:
    name: str


@payload
class UpdateProfilePayload:
    viewer: Viewer | None = None


@strawberry.input
class RequestPasswordResetInput:
    email: str


@payload
class RequestPasswordResetPayload:
    requested: bool = strawberry.field(default=False, description=(
        "True whatever the email: if it has an account, a link is on its way to it."))


@strawberry.input
class ResetPasswordInput:
    token: str = strawberry.field(description="The token at the end of the emailed link.")
    password: str


@payload
class ResetPasswordPayload:
    reset: bool = strawberry.field(default=False, description=(
        "True: the new password works; every session and API token of the account ended."))


@strawberry.type
class ProfileMutations:
    @mutation(payload=ChangePasswordPayload, rule=OWN_CREDENTIALS, description=(
        "Change your password (the current one is required); your other sessions end."))
    async def change_password(self, info: Info,
                              input: ChangePasswordInput) -> ChangePasswordPayload:
        ctx = info.context
        await ctx.runtime.rate_guard.login(ctx.client_address, ctx.viewer.email or "")
        ended = await self_service.change_password(
            ctx.session, ctx.viewer, current=input.current_password,
            new=input.new_password, client_address=ctx.client_address)
        return ChangePasswordPayload(changed=True, other_sessions_ended=ended)

    @mutation(payload=UpdateProfilePayload, rule=OWN_CREDENTIALS,
              description="Change your name, as every organization you belong to shows it.")
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> UpdateProfilePayload:
        ctx = info.context
        name = await self_service.update_profile(ctx.session, ctx.viewer, name=input.name)
        return UpdateProfilePayload(viewer=await build_viewer(
            ctx.session, dataclasses.replace(ctx.viewer, name=name)))

    @mutation(payload=RequestPasswordResetPayload, rule=SIGN_IN, description=(
        "Forgot your password: a single-use link, valid one hour, is emailed to the address "
        "if it has an account. The answer is the same whatever the email."))
    async def request_password_reset(
        self, info: Info, input: RequestPasswordResetInput,
    ) -> RequestPasswordResetPayload:
        ctx = info.context
        await ctx.runtime.rate_guard.reset(ctx.client_address, input.email)
        await recovery.request_reset(ctx.session, ctx.settings, ctx.runtime.box,
                                     email=input.email, client_address=ctx.client_address)
        return RequestPasswordResetPayload(requested=True)

    @mutation(payload=ResetPasswordPayload, rule=SIGN_IN, description=(
        "Set a new password with an emailed reset link. Ends every session and API token of "
        "the account, in every organization."))
    async def reset_password(self, info: Info, input: ResetPasswordInput) -> ResetPasswordPayload:
        ctx = info.context
        await recovery.reset_password(ctx.session, token=input.token,
                                      password=input.password,
                                      client_address=ctx.client_address)
        return ResetPasswordPayload(reset=True)


# Staff logins, by admins: invite a member, change a role, deactivate and reactivate.


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
