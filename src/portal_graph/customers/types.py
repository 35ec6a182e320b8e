"""GraphQL type of a customer (a company the organization works for)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.engine import Row

from portal_graph.capabilities import MANAGE_EXTERNAL_USERS, customer_open
from portal_graph.graphql.core import pagination
from portal_graph.graphql.core.audiences import ADMIN, SIGNED_IN, STAFF, audience, field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.pagination import DEFAULT_FIRST
from portal_graph.graphql.core.relay import Connection, Node
from portal_graph.work import loaders as work_loaders
from portal_graph.work.types import (
    Asset,
    BoundingBox,
    Job,
    JobStatus,
    MapCapture,
    MapCaptureConnection,
    box_of,
    job_status,
)

if TYPE_CHECKING:
    from portal_graph.external_users.types import ExternalUser
    from portal_graph.invitations.types import Invitation

ExternalUserRef = Annotated["ExternalUser", strawberry.lazy("portal_graph.external_users.types")]
InvitationRef = Annotated["Invitation", strawberry.lazy("portal_graph.invitations.types")]


@audience(SIGNED_IN)
@strawberry.type(description="A company the organization works for.")
class Customer(Node):
    name: str
    created_at: datetime = field(audiences=STAFF)
    updated_at: datetime = field(audiences=STAFF, description=(
        "When it last changed: send it back as `expectedUpdatedAt` with a change."))
    archived_at: datetime | None = field(audiences=STAFF, description=(
        "When it was archived (gone from external users' portals); null while active."))

    @field(audiences=STAFF, description=(
        "Whether you may invite external users to this customer and change who sees it "
        "(the rule `inviteExternalUser` and `setExternalUserCustomers` enforce)."))
    def viewer_can_manage_external_users(self, info: Info) -> bool:
        return (MANAGE_EXTERNAL_USERS.allows(info.context.viewer)
                and customer_open(self.archived_at))

    # Plain functions, not coroutines: a page loaded ahead answers at once (see pagination).
    @field(audiences=SIGNED_IN, guard=False)
    def jobs(self, info: Info, first: int | None = DEFAULT_FIRST,
             after: str | None = None, status: JobStatus | None = None) -> Connection[Job]:  # type: ignore[valid-type]
        return JOBS_OF_CUSTOMER.resolve(info, self.db_id, first, after, status)

    @field(audiences=SIGNED_IN, guard=False)
    def map_captures(self, info: Info, first: int | None = DEFAULT_FIRST,
                     after: str | None = None, within: BoundingBox | None = None,
                     ) -> MapCaptureConnection:
        return CAPTURES_OF_CUSTOMER.resolve(info, self.db_id, first, after,  # type: ignore[no-any-return]
                                            box_of(within))

    @field(audiences=SIGNED_IN, guard=False)
    def assets(self, info: Info, first: int | None = DEFAULT_FIRST,
               after: str | None = None) -> Connection[Asset]:
        return ASSETS_OF_CUSTOMER.resolve(info, self.db_id, first, after)

    @field(audiences=ADMIN, description="External users who can see this customer.")
    async def external_users(self, info: Info) -> list[ExternalUserRef]:
        from portal_graph.external_users.loaders import ExternalUsersByCustomerLoader
        from portal_graph.external_users.types import ExternalUser

        rows = await info.context.loaders.get(ExternalUsersByCustomerLoader).load(self.db_id)
        return [ExternalUser.from_row(row) for row in rows]

    @field(audiences=ADMIN, description=(
        "Invitations to this customer not yet accepted or cancelled (expired ones included, "
        "to resend), newest first."))
    async def pending_invitations(self, info: Info) -> list[InvitationRef]:
        from portal_graph.invitations.loaders import PendingInvitationsByCustomerLoader
        from portal_graph.invitations.types import Invitation

        rows = await info.context.loaders.get(PendingInvitationsByCustomerLoader).load(
            self.db_id)
        return [Invitation.from_row(row) for row in rows]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Customer:
        return cls(db_id=row.id, name=row.name, created_at=row.created_at,
                   updated_at=row.updated_at, archived_at=row.archived_at)


JOBS_OF_CUSTOMER = pagination.nested_connection(
    "Customer", "jobs", work_loaders.JobPageByCustomerLoader,
    work_loaders.JobCountByCustomerLoader, Job.from_row, filters=(("status", job_status),))
CAPTURES_OF_CUSTOMER = pagination.nested_connection(
    "Customer", "mapCaptures", work_loaders.MapCapturePageByCustomerLoader,
    work_loaders.MapCaptureCountByCustomerLoader, MapCapture.from_row,
    filters=(("within", box_of),))
ASSETS_OF_CUSTOMER = pagination.nested_connection(
    "Customer", "assets", work_loaders.AssetPageByCustomerLoader,
    work_loaders.AssetCountByCustomerLoader, Asset.from_row)
