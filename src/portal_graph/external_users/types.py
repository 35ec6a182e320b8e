"""GraphQL type of an external user (a client or council contact with customer grants)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.engine import Row

from portal_graph.capabilities import MANAGE_EXTERNAL_USERS
from portal_graph.customers.types import Customer
from portal_graph.external_users import loaders
from portal_graph.graphql.core.audiences import ADMIN, audience, field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.relay import Node


@strawberry.enum(name="ExternalUserStatus")
class ExternalUserStatus(enum.Enum):
    ACTIVE = "ACTIVE"  # sees the customers granted
    NO_ACCESS = "NO_ACCESS"  # no grants left: an empty portal
    REVOKED = "REVOKED"  # all access to the organization was revoked


@audience(ADMIN)
@strawberry.type(description="An external user of this organization: a customer's contact who "
                             "signs in to the portal and sees only the customers granted.")
class ExternalUser(Node):
    email: str
    name: str | None
    invited_at: datetime
    last_seen_at: datetime | None
    access_revoked_at: datetime | None

    async def _customer_rows(self, info: Info) -> list[Row[Any]]:
        return await info.context.loaders.get(  # type: ignore[no-any-return]
            loaders.CustomersByExternalUserLoader).load(self.db_id)

    @field(audiences=ADMIN, guard=False, description="The customers they can see, by name.")
    async def customers(self, info: Info) -> list[Customer]:
        return [Customer.from_row(row) for row in await self._customer_rows(info)]

    @field(audiences=ADMIN, guard=False)
    async def status(self, info: Info) -> ExternalUserStatus:
        if self.access_revoked_at is not None:
            return ExternalUserStatus.REVOKED
        granted = await self._customer_rows(info)
        return ExternalUserStatus.ACTIVE if granted else ExternalUserStatus.NO_ACCESS

    @field(audiences=ADMIN, description=(
        "Whether you may revoke their access (`revokeExternalAccess`, "
        "`revokeAllExternalAccess`)."))
    def viewer_can_revoke(self, info: Info) -> bool:
        return MANAGE_EXTERNAL_USERS.allows(info.context.viewer)

    @classmethod
    def from_row(cls, row: Row[Any]) -> ExternalUser:
        return cls(db_id=row.id, email=row.email, name=row.name, invited_at=row.invited_at,
                   last_seen_at=row.last_seen_at, access_revoked_at=row.access_revoked_at)
