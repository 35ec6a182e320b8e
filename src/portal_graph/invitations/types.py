"""GraphQL types of invitations: the admin's view, and the invitee's preview."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.engine import Row

from portal_graph.accounts.ownership import PasswordChoice
from portal_graph.accounts.types import Role
from portal_graph.capabilities import MANAGE_EXTERNAL_USERS, invitation_open
from portal_graph.customers.types import Customer
from portal_graph.db import models
from portal_graph.graphql.core.audiences import ADMIN, EVERYONE, audience, field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.relay import Node
from portal_graph.invitations import loaders
from portal_graph.invitations.accept import Preview

if TYPE_CHECKING:
    from portal_graph.accounts.types import StaffMember
StaffRef = Annotated["StaffMember", strawberry.lazy("portal_graph.accounts.types")]
EmailDeliveryStatus = strawberry.enum(models.OutboxStatus, name="EmailDeliveryStatus")
InvitationKind = strawberry.enum(
    models.InvitationKind, name="InvitationKind",
    description="EXTERNAL: a client contact who will see some customers. STAFF: an employee "
                "login with a role.")
PasswordChoiceEnum = strawberry.enum(
    PasswordChoice, name="PasswordChoice",
    description="What the accept page asks for. NEW_PASSWORD: choose one. CURRENT_PASSWORD: "
                "the email has an account: sign in, or enter its password. NEW_OR_CURRENT: a "
                "copied link, which does not say whether the email has an account: enter the "
                "account's password if there is one, else choose one.")


@strawberry.enum(name="InvitationStatus")
class InvitationStatus(enum.Enum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    EXPIRED = "EXPIRED"  # still pending, past its expiry (by the database clock)
    REVOKED = "REVOKED"


def status_of(row: Row[Any]) -> InvitationStatus:
    if row.state is models.InvitationState.PENDING:
        return InvitationStatus.EXPIRED if row.expired else InvitationStatus.PENDING
    return InvitationStatus(row.state.value)


@audience(ADMIN)
@strawberry.type(description="An invitation: for an external user to see some customers, or "
                             "for a person to join the staff with a role.")
class Invitation(Node):
    state: strawberry.Private[models.InvitationState]
    invited_by_id: strawberry.Private[uuid.UUID | None]
    email: str
    name: str | None
    kind: InvitationKind  # type: ignore[valid-type]
    role: Role | None = strawberry.field(  # type: ignore[valid-type]
        description="The role a STAFF invitation gives; null for EXTERNAL ones.")
    status: InvitationStatus
    expires_at: datetime
    created_at: datetime
    accepted_at: datetime | None
    last_sent_at: datetime = strawberry.field(description="When the latest link was issued.")

    @field(audiences=ADMIN, guard=False,
           description="The customers the invitee will see (those that still exist).")
    async def customers(self, info: Info) -> list[Customer]:
        rows = await info.context.loaders.get(loaders.CustomersByInvitationLoader).load(
            self.db_id)
        return [Customer.from_row(row) for row in rows]

    @field(audiences=ADMIN, guard=False, description="The staff member who sent it.")
    async def invited_by(self, info: Info) -> StaffRef | None:
        from portal_graph.accounts.loaders import StaffMemberByIdLoader
        from portal_graph.accounts.types import StaffMember

        if self.invited_by_id is None:
            return None
        row = await info.context.loaders.get(StaffMemberByIdLoader).load(self.invited_by_id)
        return StaffMember.from_row(row) if row else None

    @field(audiences=ADMIN, guard=False,
           description="Delivery of its latest email; null when none is queued or sent.")
    async def email_status(self, info: Info) -> EmailDeliveryStatus | None:  # type: ignore[valid-type]
        return await info.context.loaders.get(  # type: ignore[no-any-return]
            loaders.EmailStatusByInvitationLoader).load(self.db_id)

    @field(audiences=ADMIN, description=(
        "Whether you may send it again (`resendInvitation`): it is still pending or expired."))
    def viewer_can_resend(self, info: Info) -> bool:
        return (MANAGE_EXTERNAL_USERS.allows(info.context.viewer)
                and invitation_open(self.state))

    @field(audiences=ADMIN, description=(
        "Whether you may cancel it (`revokeInvitation`): it is still pending or expired."))
    def viewer_can_revoke(self, info: Info) -> bool:
        return (MANAGE_EXTERNAL_USERS.allows(info.context.viewer)
                and invitation_open(self.state))

    @classmethod
    def from_row(cls, row: Row[Any]) -> Invitation:
        return cls(db_id=row.id, state=row.state, invited_by_id=row.invited_by_id,
                   email=row.email, name=row.name,
                   kind=row.kind, role=row.role, status=status_of(row),
                   expires_at=row.expires_at, created_at=row.created_at,
                   accepted_at=row.accepted_at, last_sent_at=row.last_sent_at)


@audience(EVERYONE)
@strawberry.type(description="What the holder of an invite link is invited to.")
class InvitationPreview:
    organization_name: str
    email: str
    name: str | None
    kind: InvitationKind  # type: ignore[valid-type]
    role: Role | None  # type: ignore[valid-type]
    customer_names: list[str]
    expires_at: datetime
    expired: bool
    password_choice: PasswordChoiceEnum  # type: ignore[valid-type]

    @classmethod
    def from_preview(cls, preview: Preview) -> InvitationPreview:
        return cls(organization_name=preview.organization_name, email=preview.email,
                   name=preview.name, kind=preview.kind, role=preview.role,
                   customer_names=preview.customer_names, expires_at=preview.expires_at,
                   expired=preview.expired, password_choice=preview.password_choice)
