"""Reading the audit log."""

from __future__ import annotations

import strawberry

from portal_graph.audit import repository
from portal_graph.audit.types import AuditEvent
from portal_graph.graphql.core.audiences import ADMIN, field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.pagination import DEFAULT_FIRST, paginate
from portal_graph.graphql.core.relay import Connection
from portal_graph.scoped_sql.pagination import NEWEST_FIRST


@strawberry.type
class AuditQueries:
    @field(audiences=ADMIN, description="Invitations and access changes, newest first.")
    async def audit_events(self, info: Info, first: int | None = DEFAULT_FIRST,
                           after: str | None = None) -> Connection[AuditEvent]:
        return await paginate(info, repository.listing(info.context.scope), NEWEST_FIRST,
                              first, after, AuditEvent.from_row)
