"""GraphQL types of people and organizations: staff members, the viewer, API tokens."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.engine import Row

from portal_graph.accounts.capability_types import ViewerCapabilities
from portal_graph.auth.repository import Membership
from portal_graph.db import models
from portal_graph.graphql.core.audiences import ADMIN, EVERYONE, SIGNED_IN, STAFF, audience, field
from portal_graph.graphql.core.relay import Node, to_global_id
from portal_graph.scope import Audience
from portal_graph.scope import Viewer as ViewerState

Role = strawberry.enum(models.Role, name="Role")


@strawberry.enum(name="Audience", description="Which part of the API a viewer may use.")
class AudienceEnum(enum.Enum):
    EXTERNAL = "EXTERNAL"
    STAFF = "STAFF"
    ADMIN = "ADMIN"


@audience(STAFF)
@strawberry.type(description="An employee login of the organization.")
class StaffMember(Node):
    email: str
    name: str | None
    role: Role  # type: ignore[valid-type]
    deactivated_at: datetime | None = strawberry.field(description=(
        "When an admin deactivated this login; null while it is active."))

    @classmethod
    def from_row(cls, row: Row[Any]) -> StaffMember:
        return cls(db_id=row.id, email=row.email, name=row.name, role=row.role,
                   deactivated_at=row.deactivated_at)


@audience(EVERYONE)  # a login's payload shows it to the caller who just signed in
@strawberry.type(description="An organization (tenant): 'your account'.")
class Organization:
    db_id: strawberry.Private[uuid.UUID]
    name: str
    invitation_ttl_days: int = field(
        audiences=ADMIN, description="How many days a new invite link stays valid (1-30).")

    @field(audiences=EVERYONE, guard=False)
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Organization", self.db_id))


    @classmethod
    def from_row(cls, row: Row[Any]) -> Organization:
        return cls(db_id=row.id, name=row.name, invitation_ttl_days=row.invitation_ttl_days)


@audience(EVERYONE)
@strawberry.type(description="An organization the signed-in person can act in.")
class OrganizationMembership:
    organization_id: strawberry.ID
    organization_name: str
    role: Role | None  # type: ignore[valid-type]


@audience(EVERYONE)
@strawberry.type(description="The signed-in person, acting inside one organization.")
class Viewer:
    person_id: strawberry.Private[uuid.UUID]
    state: strawberry.Private[ViewerState]  # who this is, as the request's rules see them
    email: str
    name: str | None
    audience: AudienceEnum
    role: Role | None  # type: ignore[valid-type]
    organization: Organization
    memberships: list[OrganizationMembership] = strawberry.field(
        description="Every organization this person can switch to.")
    customer_ids: list[strawberry.ID] = strawberry.field(
        description="For an external user: the customers they are granted (global ids).")

    @field(audiences=EVERYONE, guard=False)
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Person", self.person_id))

    @field(audiences=SIGNED_IN, description=(
        "What you may do here (the rules the mutations enforce), for showing only the "
        "buttons that work."))
    def capabilities(self) -> ViewerCapabilities:
        return ViewerCapabilities(state=self.state)


@audience(SIGNED_IN)
@strawberry.type(description="A personal API token for partner integrations. Not a Node: "
                             "it is its owner's alone, listed by `apiTokens`.")
class ApiToken:
    db_id: strawberry.Private[uuid.UUID]
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


    @field(audiences=SIGNED_IN, guard=False)
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("ApiToken", self.db_id))

    @classmethod
    def from_row(cls, row: Any) -> ApiToken:
        return cls(db_id=row.id, name=row.name, created_at=row.created_at,
                   last_used_at=row.last_used_at, expires_at=row.expires_at,
                   revoked_at=row.revoked_at)


def audience_of(value: Audience) -> AudienceEnum:
    return AudienceEnum(value.value)


def memberships(choices: list[Membership]) -> list[OrganizationMembership]:
    return [OrganizationMembership(
        organization_id=strawberry.ID(to_global_id("Organization", m.organization_id)),
        organization_name=m.organization_name,
        role=models.Role(m.role) if m.role else None) for m in choices]
