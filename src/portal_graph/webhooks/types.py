"""GraphQL types of webhooks: endpoints and their deliveries (admins and external users)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.engine import Row

from portal_graph.graphql.core.audiences import audience, field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.pagination import DEFAULT_FIRST, paginate
from portal_graph.graphql.core.relay import Connection, to_global_id
from portal_graph.scope import Audience
from portal_graph.scoped_sql.pagination import NEWEST_FIRST
from portal_graph.webhooks import repository as repo

# Admins manage the organization's endpoints; external users (and their API tokens) their own.
PARTNERS = frozenset({Audience.ADMIN, Audience.EXTERNAL})


class DeliveryState(enum.Enum):
    QUEUED = "QUEUED"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


DeliveryStatus = strawberry.enum(
    DeliveryState, name="WebhookDeliveryStatus",
    description="QUEUED: to be sent (again); DELIVERED: the receiver answered 2xx; FAILED: "
                "given up after the last attempt; SKIPPED: not sent, its subject was out of "
                "the endpoint owner's scope (or the endpoint disabled) when it fell due.")


@audience(PARTNERS)
@strawberry.type(description="One event for one endpoint.")
class WebhookDelivery:
    db_id: strawberry.Private[uuid.UUID]
    event_kind: str
    status: DeliveryStatus  # type: ignore[valid-type]
    attempts: int
    response_code: int | None = strawberry.field(
        description="The HTTP status of the last attempt, if it got an answer.")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    subject_id: strawberry.ID = strawberry.field(description="The global id of the subject.")

    @strawberry.field(description="Its id; also the `webhook-id` header of every attempt.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("WebhookDelivery", self.db_id))

    @classmethod
    def from_row(cls, row: Row[Any]) -> WebhookDelivery:
        return cls(db_id=row.id, event_kind=row.kind, status=DeliveryState(row.status),
                   attempts=row.attempts, response_code=row.response_code,
                   last_error=row.last_error, created_at=row.created_at,
                   delivered_at=row.delivered_at,
                   subject_id=strawberry.ID(to_global_id(row.subject_type, row.subject_id)))


@audience(PARTNERS)
@strawberry.type(description="Where events are POSTed, signed per the Standard Webhooks spec.")
class WebhookEndpoint:
    db_id: strawberry.Private[uuid.UUID]
    url: str
    description: str | None
    event_kinds: list[str]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    owned_by_organization: bool = strawberry.field(
        description="True for the organization's endpoints, false for an external user's.")

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("WebhookEndpoint", self.db_id))

    @field(audiences=PARTNERS, description="Its deliveries, newest first.")
    async def deliveries(self, info: Info, first: int | None = DEFAULT_FIRST,
                         after: str | None = None) -> Connection[WebhookDelivery]:
        statement = repo.delivery_listing(info.context.scope).where(
            repo.deliveries.c.endpoint_id == self.db_id)
        return await paginate(info, statement, NEWEST_FIRST, first, after,
                              WebhookDelivery.from_row)

    @classmethod
    def from_row(cls, row: Row[Any]) -> WebhookEndpoint:
        return cls(db_id=row.id, url=row.url, description=row.description,
                   event_kinds=list(row.event_kinds), enabled=row.enabled,
                   disabled_reason=row.disabled_reason, failing_since=row.failing_since,
                   created_at=row.created_at,
                   owned_by_organization=row.owner_external_user_id is None)
