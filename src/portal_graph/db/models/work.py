"""The organization's work: customers (and the external users granted them), their jobs and
assets, and map captures."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, Numeric, text
from sqlalchemy.orm import Mapped, mapped_column

from portal_graph.db.models.base import (
    Base,
    Identified,
    InOrganization,
    OnChangeFeed,
    OwnedByOrganization,
    links,
    pg_enum,
    stamped,
    tenant_reference,
)


class JobStatus(enum.Enum):
    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


def _customer_row_keys(table: str) -> tuple[Index, ForeignKeyConstraint]:
    """A customer's row on the change feed: read in change order, deleted with its customer."""
    return (Index(f"ix_{table}_org_change_position", "organization_id", "change_position"),
            tenant_reference(["customer_id"], "customers", ["id"], ondelete="CASCADE"))


class Customer(OwnedByOrganization, Identified, OnChangeFeed, Base):
    __tablename__ = "customers"
    name: Mapped[str]
    created_at: Mapped[datetime] = stamped()
    updated_at: Mapped[datetime] = stamped()
    # Archived: gone from external users' portals (scope.py), no new invitations; history stays.
    archived_at: Mapped[datetime | None]
    __table_args__ = (
        Index("ix_customers_org_change_position", "organization_id", "change_position"),
        CheckConstraint("length(btrim(name)) > 0", name="name_present"),
        Index("ix_customers_org_name", "organization_id", "name", "id"),
    )


class CustomerGrant(InOrganization, Base):
    """An external user's access to one customer's rows."""

    __tablename__ = "customer_grants"
    external_user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    granted_at: Mapped[datetime] = stamped()
    __table_args__ = (
        *links(external_user_id="external_users", customer_id="customers"),
        Index("ix_customer_grants_org_customer", "organization_id", "customer_id"),
    )


class Job(InOrganization, Identified, OnChangeFeed, Base):
    __tablename__ = "jobs"
    customer_id: Mapped[uuid.UUID]
    reference: Mapped[str]
    title: Mapped[str]
    status: Mapped[JobStatus] = mapped_column(pg_enum(JobStatus, "job_status"))
    scheduled_for: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    internal_notes: Mapped[str | None]
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    created_by_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = stamped()
    updated_at: Mapped[datetime] = stamped()
    __table_args__ = (
        *_customer_row_keys("jobs"),
        tenant_reference(["created_by_id"], "staff_members", ["id"],
                         ondelete="SET NULL (created_by_id)"),
        CheckConstraint("length(btrim(title)) > 0", name="title_present"),
        CheckConstraint("price IS NULL OR price >= 0", name="price_positive"),
        Index("uq_jobs_org_reference", "organization_id", "reference", unique=True),
        # Lists are newest first; external viewers filter on customer and COMPLETED.
        Index("ix_jobs_org_id", "organization_id", text("id DESC")),
        Index("ix_jobs_org_customer_status", "organization_id", "customer_id", "status",
              text("id DESC")),
        Index("ix_jobs_org_status", "organization_id", "status", text("id DESC")),
    )


class JobAssignment(InOrganization, Base):
    """Staff assigned to a job (staff-only information)."""

    __tablename__ = "job_assignments"
    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    staff_member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    __table_args__ = links(job_id="jobs", staff_member_id="staff_members")


class Asset(InOrganization, Identified, OnChangeFeed, Base):
    __tablename__ = "assets"
    customer_id: Mapped[uuid.UUID]
    name: Mapped[str]
    kind: Mapped[str | None]
    serial_number: Mapped[str | None]
    location: Mapped[str | None]
    created_at: Mapped[datetime] = stamped()
    updated_at: Mapped[datetime] = stamped()
    __table_args__ = (
        *_customer_row_keys("assets"),
        CheckConstraint("length(btrim(name)) > 0", name="name_present"),
        Index("ix_assets_org_customer", "organization_id", "customer_id", text("id DESC")),
    )


class JobAsset(InOrganization, Base):
    __tablename__ = "job_assets"
    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    asset_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    __table_args__ = (
        *links(job_id="jobs", asset_id="assets"),
        Index("ix_job_assets_org_asset", "organization_id", "asset_id", "job_id"),
    )


class MapCapture(InOrganization, Identified, OnChangeFeed, Base):
    __tablename__ = "map_captures"
    customer_id: Mapped[uuid.UUID]
    job_id: Mapped[uuid.UUID | None]
    captured_at: Mapped[datetime] = stamped()
    latitude: Mapped[float]
    longitude: Mapped[float]
    geometry: Mapped[dict[str, Any] | None]
    note: Mapped[str | None]
    captured_by_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = stamped()
    updated_at: Mapped[datetime] = stamped()
    __table_args__ = (
        *_customer_row_keys("map_captures"),
        tenant_reference(["job_id"], "jobs", ["id"], ondelete="SET NULL (job_id)"),
        tenant_reference(["captured_by_id"], "staff_members", ["id"],
                         ondelete="SET NULL (captured_by_id)"),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        Index("ix_map_captures_org_customer", "organization_id", "customer_id", text("id DESC")),
        Index("ix_map_captures_org_job", "organization_id", "job_id", text("id DESC")),
        Index("ix_map_captures_org_id", "organization_id", text("id DESC")),
        # mapCaptures(within:): a latitude range, longitudes checked in the index (0010)
        Index("ix_map_captures_org_position", "organization_id", "latitude", "longitude"),
    )
