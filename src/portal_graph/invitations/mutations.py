"""Invitation mutations: invite, resend, cancel (admins) and accept (anyone with the link)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

import strawberry

from portal_graph.accounts.types import Viewer
from portal_graph.accounts.viewer import viewer_of_session
from portal_graph.actor import Actor
from portal_graph.capabilities import MANAGE_EXTERNAL_USERS, SIGN_IN
from portal_graph.db.session import RequestSession
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.payloads import act_on, mutation, payload
from portal_graph.graphql.core.relay import parse_id
from portal_graph.invitations import accept, service
from portal_graph.invitations.types import Invitation
from portal_graph.scope import Scope

P = ParamSpec("P")
T = TypeVar("T")


@strawberry.input
class InviteExternalUserInput:
    email: str
    name: str | None = None
    customer_ids: list[strawberry.ID] = strawberry.field(
        description="At least one customer the person will see.")


@payload
class InviteExternalUserPayload:
    invitation: Invitation | None = None
    invite_url: str | None = strawberry.field(default=None, description=(
        "The link to accept, shown only now: copy and send it if the email does not arrive."))


@strawberry.input
class ResendInvitationInput:
    invitation_id: strawberry.ID


@payload
class ResendInvitationPayload:
    invitation: Invitation | None = None
    invite_url: str | None = strawberry.field(default=None,
                                              description="The new link; the old one is dead.")


@strawberry.input
class RevokeInvitationInput:
    invitation_id: strawberry.ID


@payload
class RevokeInvitationPayload:
    invitation: Invitation | None = None


@strawberry.input
class AcceptInvitationInput:
    token: str
    password: str | None = strawberry.field(default=None, description=(
        "A new password, or the current one when the email already has an account. Not "
        "needed when the request carries that account's own session (Authorization: Bearer)."))
    name: str | None = None


@payload
class AcceptInvitationPayload:
    token: str | None = strawberry.field(
        default=None, description="A session: send as `Authorization: Bearer <token>`.")
    viewer: Viewer | None = None


async def issue_invitation(
    info: Info, payload: Callable[..., T],
    command: Callable[Concatenate[RequestSession, Scope, Actor, service.Mail, P],
                      Awaitable[service.Issued]],
    /, *args: P.args, **kwargs: P.kwargs,
) -> T:
    """Issue an invitation's link as the viewer (invite, invite to the staff, send again),
    within the organization's rate of invitations: the payload shows the invitation and, only
    now, its link."""
    ctx = info.context
    await ctx.runtime.rate_guard.invite(ctx.viewer.organization_id)
    issued = await ctx.act(command, service.Mail(ctx.settings, ctx.runtime.box), *args, **kwargs)
    return payload(invitation=Invitation.from_row(issued.invitation), invite_url=issued.invite_url)


@strawberry.type
class InvitationMutations:
    @mutation(payload=InviteExternalUserPayload, rule=MANAGE_EXTERNAL_USERS, description=(
        "Invite an external user to see some customers. Invites the same email again while an "
        "invitation is pending add to that invitation and replace its link."))
    async def invite_external_user(self, info: Info,
                                   input: InviteExternalUserInput) -> InviteExternalUserPayload:
        return await issue_invitation(
            info, InviteExternalUserPayload, service.invite, email=input.email, name=input.name,
            customer_ids=[parse_id(c, "Customer") for c in input.customer_ids])

    @mutation(payload=ResendInvitationPayload, rule=MANAGE_EXTERNAL_USERS, description=(
        "Send a pending or expired invitation again, with a new link and a fresh expiry."))
    async def resend_invitation(self, info: Info,
                                input: ResendInvitationInput) -> ResendInvitationPayload:
        return await issue_invitation(
            info, ResendInvitationPayload, service.resend,
            invitation_id=parse_id(input.invitation_id, "Invitation"))

    @mutation(payload=RevokeInvitationPayload, rule=MANAGE_EXTERNAL_USERS,
              description="Cancel a pending invitation; its link stops working.")
    async def revoke_invitation(self, info: Info,
                                input: RevokeInvitationInput) -> RevokeInvitationPayload:
        return RevokeInvitationPayload(invitation=await act_on(
            info, Invitation, service.revoke, input.invitation_id))

    @mutation(payload=AcceptInvitationPayload, rule=SIGN_IN, description=(
        "Accept an invitation and sign in. An account that exists joins only with its "
        "person's consent: their own session, or its current password."))
    async def accept_invitation(self, info: Info,
                                input: AcceptInvitationInput) -> AcceptInvitationPayload:
        ctx = info.context

        async def guard_password(email: str) -> None:
            await ctx.runtime.rate_guard.password_guess(email)
        await ctx.runtime.rate_guard.accept(ctx.client_address)
        result = await accept.accept(ctx.session, ctx.settings, token=input.token,
                                     password=input.password, name=input.name,
                                     caller=ctx.viewer, client_address=ctx.client_address,
                                     guard_password=guard_password)
        return AcceptInvitationPayload(token=result.token,
                                       viewer=await viewer_of_session(info, result.token))
