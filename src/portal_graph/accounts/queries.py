"""Queries about the signed-in person and their organization."""

from __future__ import annotations

import strawberry

from portal_graph.accounts import repository as repo
from portal_graph.accounts.types import ApiToken, StaffMember, Viewer
from portal_graph.accounts.viewer import build_viewer
from portal_graph.auth import repository as auth_repo
from portal_graph.graphql.core.audiences import EVERYONE, SIGNED_IN, STAFF, field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.pagination import DEFAULT_FIRST, paginate
from portal_graph.graphql.core.relay import Connection
from portal_graph.scoped_sql.pagination import NEWEST_FIRST


@strawberry.type
class AccountQueries:
    @field(audiences=EVERYONE, description="The signed-in person; null when anonymous.")
    async def me(self, info: Info) -> Viewer | None:
        return await build_viewer(info.context.session, info.context.viewer)

    @field(audiences=SIGNED_IN, description="Your personal API tokens in this organization.")
    async def api_tokens(self, info: Info) -> list[ApiToken]:
        context = info.context
        rows = await auth_repo.api_tokens_of(context.session, context.scope,
                                             context.viewer.person_id)  # type: ignore[arg-type]
        return [ApiToken.from_row(row) for row in rows]

    @field(audiences=STAFF, description=(
        "The organization's employee logins, newest first, deactivated ones included."))
    async def staff_members(self, info: Info, first: int | None = DEFAULT_FIRST,
                            after: str | None = None) -> Connection[StaffMember]:
        return await paginate(info, repo.staff_listing(info.context.scope), NEWEST_FIRST,
                              first, after, StaffMember.from_row)

