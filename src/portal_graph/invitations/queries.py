"""Queries for invitations: the admin's list and the invitee's preview."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from portal_graph.graphql.core.audiences import ADMIN, EVERYONE, field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.pagination import DEFAULT_FIRST, paginate
from portal_graph.graphql.core.relay import Connection
from portal_graph.invitations import accept, repository
from portal_graph.invitations.types import (
    Invitation,
    InvitationKind,
    InvitationPreview,
    InvitationStatus,
)
from portal_graph.problems import Rejected
from portal_graph.scoped_sql.pagination import NEWEST_FIRST


@strawberry.type
class InvitationQueries:
    @field(audiences=ADMIN, description="This organization's invitations, newest first.")
    async def invitations(
        self, info: Info, first: int | None = DEFAULT_FIRST, after: str | None = None,
        status: InvitationStatus | None = None,
        kind: InvitationKind | None = None,  # type: ignore[valid-type]
    ) -> Connection[Invitation]:
        statement = repository.listing(info.context.scope, status.value if status else None,
                                       kind)
        return await paginate(info, statement, NEWEST_FIRST, first, after, Invitation.from_row)

    @field(audiences=EVERYONE, description=(
        "The invitation an invite link's token belongs to, for the accept page; null when the "
        "token is unknown, cancelled, already used or replaced by a newer link. Through the "
        "link an admin copied it does not say whether the email has an account."))
    async def invitation_preview(self, info: Info, token: str) -> InvitationPreview | None:
        ctx = info.context
        try:
            await ctx.runtime.rate_guard.preview(ctx.client_address)
        except Rejected as refused:
            raise GraphQLError(str(refused), extensions={"code": "RATE_LIMITED"}) from None
        found = await accept.preview(ctx.session, token)
        return InvitationPreview.from_preview(found) if found else None
