"""What goes out, each by a worker under a lease: webhook deliveries and emails."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, LargeBinary, Text, text, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from portal_graph.db.models.base import (
    Base,
    Identified,
    OwnedByOrganization,
    pg_enum,
    stamped,
    tenant_reference,
)

# A lease is whole (token and expiry) and only ever on a row still to be sent.
LEASE = ("(lease_token IS NULL) = (lease_expires_at IS NULL) "
         "AND (lease_token IS NULL OR status = 'QUEUED')")


class WebhookEndpoint(OwnedByOrganization, Identified, Base):
    """Where events are POSTed: the organization's (registered by admins; owner null) or an
    external user's own (receiving only events about rows in their scope at delivery time)."""

    __tablename__ = "webhook_endpoints"
    url: Mapped[str]
    description: Mapped[str | None]
    owner_external_user_id: Mapped[uuid.UUID | None]
    event_kinds: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # The signing secret, encrypted with SECRET_KEY (it is needed to sign every delivery).
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(server_default=true())
    disabled_reason: Mapped[str | None]
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = stamped()
    __table_args__ = (
        tenant_reference(["owner_external_user_id"], "external_users", ["id"],
                         ondelete="CASCADE"),
        Index("ix_webhook_endpoints_org_owner", "organization_id", "owner_external_user_id"),
    )


class WebhookDelivery(OwnedByOrganization, Identified, Base):
    """One event for one endpoint, delivered by a worker under a lease (like `email_outbox`).
    Its id is the `webhook-id` header: the same on every attempt, so receivers deduplicate."""

    __tablename__ = "webhook_deliveries"
    endpoint_id: Mapped[uuid.UUID]
    event_position: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str]
    subject_type: Mapped[str]
    subject_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID | None]
    occurred_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(server_default="QUEUED")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = stamped()
    response_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None]
    delivered_at: Mapped[datetime | None]
    lease_token: Mapped[uuid.UUID | None]
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = stamped()
    __table_args__ = (
        tenant_reference(["endpoint_id"], "webhook_endpoints", ["id"], ondelete="CASCADE"),
        CheckConstraint("status IN ('QUEUED', 'DELIVERED', 'FAILED', 'SKIPPED')",
                        name="status"),
        CheckConstraint(LEASE, name="lease"),
        Index("ix_webhook_deliveries_due", "next_attempt_at",
              postgresql_where=text("status = 'QUEUED'")),
        Index("ix_webhook_deliveries_org_endpoint", "organization_id", "endpoint_id",
              text("id DESC")),
    )


class OutboxStatus(enum.Enum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"


class OutboxEmail(OwnedByOrganization, Identified, Base):
    """Transactional outbox: written with the change, sent by a worker under a lease.

    A worker claims a due email by giving it a lease (a token of its own and an expiry) in a
    transaction it commits before it talks to SMTP; other workers skip an email whose lease is
    live. The outcome is recorded only while the token is still the claimer's. An expired lease
    (its worker died mid-send) is claimed again. `status` stays QUEUED while leased.
    """

    __tablename__ = "email_outbox"
    invitation_id: Mapped[uuid.UUID | None]
    template: Mapped[str]
    to_address: Mapped[str]
    # Template parameters without secrets; the secret part (the invite link) is encrypted
    # with the configured key and erased once the message is sent.
    params: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[OutboxStatus] = mapped_column(pg_enum(OutboxStatus, "outbox_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = stamped()
    last_error: Mapped[str | None]
    created_at: Mapped[datetime] = stamped()
    sent_at: Mapped[datetime | None]
    lease_token: Mapped[uuid.UUID | None]
    lease_expires_at: Mapped[datetime | None]
    __table_args__ = (
        tenant_reference(["invitation_id"], "invitations", ["id"], ondelete="CASCADE"),
        CheckConstraint(LEASE, name="lease"),
        # The worker's claim query scans only due, queued rows.
        Index("ix_email_outbox_due", "next_attempt_at",
              postgresql_where=text("status = 'QUEUED'")),
        Index("ix_email_outbox_org_invitation", "organization_id", "invitation_id",
              text("id DESC")),
    )
