"""A person's own account: change the password or the name (signed in), and "forgot password"
(anonymous). None of these is open to API tokens (docs/RULES.md)."""

from __future__ import annotations

import dataclasses

import strawberry

from portal_graph.accounts import recovery, self_service
from portal_graph.accounts.types import Viewer
from portal_graph.accounts.viewer import build_viewer
from portal_graph.capabilities import OWN_CREDENTIALS, SIGN_IN
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.payloads import mutation, payload


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
