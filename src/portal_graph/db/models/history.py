"""What happened: the audit trail, domain events, and the change feed's history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, text
from sqlalchemy.dialects.postgresql import ARRAY, INET, UUID
from sqlalchemy.orm import Mapped, mapped_column

from portal_graph.db.models.base import Base, Identified, OwnedByOrganization, stamped


class AuditEvent(OwnedByOrganization, Identified, Base):
    __tablename__ = "audit_events"
    occurred_at: Mapped[datetime] = stamped()
    action: Mapped[str]
    actor_person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL")
    )
    target_person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL")
    )
    target_email: Mapped[str | None]
    invitation_id: Mapped[uuid.UUID | None]
    customer_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default="{}"
    )
    client_address: Mapped[str | None] = mapped_column(INET)
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    __table_args__ = (Index("ix_audit_events_org_id", "organization_id", text("id DESC")),)


class DomainEvent(OwnedByOrganization, Base):
    """Something that happened to a row, told to listeners when its transaction commits
    (portal_graph/events). Kept a few days (the housekeeping sweep), for catching up."""

    __tablename__ = "domain_events"
    # One sequence for every organization: positions increase in the order events are written.
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    kind: Mapped[str]
    subject_type: Mapped[str]
    subject_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID | None]
    occurred_at: Mapped[datetime] = stamped()
    __table_args__ = (
        Index("ix_domain_events_id", "id"),  # a worker reading every organization's in order
        Index("ix_domain_events_occurred_at", "occurred_at"),  # the sweep
    )


# --- the change feed's history (portal_graph/feed, docs/FEED.md) ---------------------------
# Written only by triggers (migration 0007). No foreign keys to the rows they tell of: the
# history outlives them.


class FeedTombstone(OwnedByOrganization, Base):
    """A deleted customer, job, capture or asset, at the position of its deletion."""

    __tablename__ = "feed_tombstones"
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entity: Mapped[str]  # the GraphQL type name
    row_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    deleted_at: Mapped[datetime] = stamped()


class FeedPublicPeriod(OwnedByOrganization, Base):
    """[since, until) positions during which a row was visible to whoever held a grant of its
    customer (a job while COMPLETED, ...); `until` is null while it still is."""

    __tablename__ = "feed_public_periods"
    entity: Mapped[str] = mapped_column(primary_key=True)
    row_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    since_position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    until_position: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[uuid.UUID]
    __table_args__ = (
        # "Could this viewer ever see it": from the viewer's grant periods to their rows.
        Index("ix_feed_public_periods_org_customer", "organization_id", "customer_id", "entity",
              "row_id"),
    )


class FeedGrantPeriod(OwnedByOrganization, Base):
    """[since, until) positions during which an external user held a grant of a customer."""

    __tablename__ = "feed_grant_periods"
    external_user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    since_position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    until_position: Mapped[int | None] = mapped_column(BigInteger)
