"""Queries for external users (Settings -> External Users)."""

from __future__ import annotations

import strawberry

from portal_graph.external_users import repository
from portal_graph.external_users.types import ExternalUser
from portal_graph.graphql.core.audiences import ADMIN, field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.pagination import DEFAULT_FIRST, paginate_kept
from portal_graph.graphql.core.relay import Connection
from portal_graph.scoped_sql.pagination import Ordering

BY_EMAIL = Ordering(("email_normalized", "id"))
MAX_SEARCH = 200


@strawberry.type
class ExternalUserQueries:
    @field(audiences=ADMIN, description=(
        "Every external user of this organization, by email; `search` matches part of a name, "
        "an email or a granted customer's name, ignoring case."))
    async def external_users(self, info: Info, first: int | None = DEFAULT_FIRST,
                             after: str | None = None,
                             search: str | None = None) -> Connection[ExternalUser]:
        needle = search.strip()[:MAX_SEARCH] if search else None
        return await paginate_kept(
            info, ("external_users", bool(needle)),
            lambda: repository.listing(info.context.scope, search=bool(needle)),
            repository.search_values(needle), BY_EMAIL, first, after, ExternalUser.from_row)
