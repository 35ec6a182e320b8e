"""Signing in and out, switching organization, API tokens, settings.

Every credential mutation refuses API tokens (NotByApiToken): a token reads and writes as its
owner but cannot sign in, switch, mint tokens or sessions (docs/RULES.md).
"""

from __future__ import annotations

import strawberry

from portal_graph.accounts import service
from portal_graph.accounts.types import (
    ApiToken,
    Organization,
    OrganizationMembership,
    Viewer,
    memberships,
)
from portal_graph.accounts.viewer import viewer_of_session
from portal_graph.auth import repository as auth_repo
from portal_graph.auth import service as auth
from portal_graph.capabilities import CHANGE_SETTINGS, OWN_CREDENTIALS, SIGN_IN
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.payloads import UserError, mutation, payload
from portal_graph.graphql.core.relay import parse_id
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


