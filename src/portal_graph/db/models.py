"""The whole domain model.

Every tenant table has `organization_id` as the first column of its primary key, and every
foreign key between tenant tables includes it, so no row can point into another organization
and a distributed PostgreSQL can shard the data by organization. Relationships are not mapped
(no lazy loading at all): every related lookup goes through a loader or an explicit query.
"""

from __future__ import annotations

import enum
import os
import time
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Double,
    Enum,
    FetchedValue,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The primary's current WAL position, in bytes from 0/0 (replicas.py compares them).
WAL_POSITION = "(pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> uuid.UUID:
    """A UUIDv7: random enough to be unguessable, time-ordered so ids sort by creation."""
    millis = time.time_ns() // 1_000_000
    raw = bytearray(millis.to_bytes(6, "big") + os.urandom(10))
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(raw))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {uuid.UUID: UUID(as_uuid=True), dict[str, Any]: JSONB}


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def _org_fk(columns: list[str], table: str, remote: list[str], **kw: Any) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["organization_id", *columns],
        [f"{table}.organization_id", *(f"{table}.{c}" for c in remote)],
        **kw,
    )


class Role(enum.Enum):
    ADMIN = "ADMIN"
    MANAGER = "MANAGER"
    USER = "USER"


class JobStatus(enum.Enum):
    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class InvitationState(enum.Enum):
    """Stored state; EXPIRED is derived from `expires_at` against the database clock."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REVOKED = "REVOKED"


class InvitationKind(enum.Enum):
    """EXTERNAL: a client contact scoped to customers. STAFF: an employee login with a role."""

    EXTERNAL = "EXTERNAL"
    STAFF = "STAFF"


class OutboxStatus(enum.Enum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"


# --- people and tenancy -------------------------------------------------------------------


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(Text)
    invitation_ttl_days: Mapped[int] = mapped_column(SmallInteger, default=7)
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        CheckConstraint("invitation_ttl_days BETWEEN 1 AND 30", name="ttl_range"),
        CheckConstraint("length(btrim(name)) > 0", name="name_present"),
    )


class Person(Base):
    """One login identity, shared by all the organizations the person belongs to."""

    __tablename__ = "persons"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(Text)
    # citext is not in the embedded PostgreSQL: a normalised copy carries the uniqueness.
    email_normalized: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    # When the owner of the mailbox last proved it (an emailed link, a password reset). An
    # account without it is usable only where its password was set (docs/RULES.md).
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # For an account whose password someone other than the mailbox owner could have set (a
    # copied invite link, the operator's bootstrap): the organization it was set in. Null once
    # the mailbox is proven; null without proof for accounts made before this rule existed.
    password_set_in_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"))
    __table_args__ = (
        CheckConstraint("email_normalized = lower(email_normalized)", name="email_lower"),
    )


class StaffMember(Base):
    """Internal membership: an employee login of an organization."""

    __tablename__ = "staff_members"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    created_at: Mapped[datetime] = _now()
    # A deactivated member keeps the row (history, assignments) and acts for nobody.
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("uq_staff_members_org_person", "organization_id", "person_id", unique=True),
        Index("ix_staff_members_person", "person_id"),
    )


class ExternalUser(Base):
    """External membership: a client or council contact, scoped by customer grants."""

    __tablename__ = "external_users"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    invited_at: Mapped[datetime] = _now()
    joined_at: Mapped[datetime] = _now()
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by "revoke all": the membership (and its history) remains, access does not.
    access_revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("uq_external_users_org_person", "organization_id", "person_id", unique=True),
        Index("ix_external_users_person", "person_id"),
    )


class CustomerGrant(Base):
    __tablename__ = "customer_grants"
    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    external_user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    granted_at: Mapped[datetime] = _now()
    __table_args__ = (
        _org_fk(["external_user_id"], "external_users", ["id"], ondelete="CASCADE"),
        _org_fk(["customer_id"], "customers", ["id"], ondelete="CASCADE"),
        Index("ix_customer_grants_org_customer", "organization_id", "customer_id"),
    )


# --- the organization's work --------------------------------------------------------------


class Customer(Base):
    __tablename__ = "customers"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    # Archived: gone from external users' portals (scope.py), no new invitations; history stays.
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The change feed's position: set by a trigger on every insert and update (migration 0007).
    change_position: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue(),
                                                 server_onupdate=FetchedValue())
    __table_args__ = (
        Index("ix_customers_org_change_position", "organization_id", "change_position"),
        CheckConstraint("length(btrim(name)) > 0", name="name_present"),
        Index("ix_customers_org_name", "organization_id", "name", "id"),
    )


class Job(Base):
    __tablename__ = "jobs"
    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column()
    reference: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"))
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    internal_notes: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    # The change feed's position: set by a trigger on every insert and update (migration 0007).
    change_position: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue(),
                                                 server_onupdate=FetchedValue())
    __table_args__ = (
        Index("ix_jobs_org_change_position", "organization_id", "change_position"),
        _org_fk(["customer_id"], "customers", ["id"], ondelete="CASCADE"),
        _org_fk(["created_by_id"], "staff_members", ["id"], ondelete="SET NULL (created_by_id)"),
        CheckConstraint("length(btrim(title)) > 0", name="title_present"),
        CheckConstraint("price IS NULL OR price >= 0", name="price_positive"),
        Index("uq_jobs_org_reference", "organization_id", "reference", unique=True),
        # Lists are newest first; external viewers filter on customer and COMPLETED.
        Index("ix_jobs_org_id", "organization_id", text("id DESC")),
        Index("ix_jobs_org_customer_status", "organization_id", "customer_id", "status",
              text("id DESC")),
        Index("ix_jobs_org_status", "organization_id", "status", text("id DESC")),
    )


class JobAssignment(Base):
    """Staff assigned to a job (staff-only information)."""

    __tablename__ = "job_assignments"
    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    staff_member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    __table_args__ = (
        _org_fk(["job_id"], "jobs", ["id"], ondelete="CASCADE"),
        _org_fk(["staff_member_id"], "staff_members", ["id"], ondelete="CASCADE"),
    )


class Asset(Base):
    __tablename__ = "assets"
    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column()
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(Text)
    serial_number: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    # The change feed's position: set by a trigger on every insert and update (migration 0007).
    change_position: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue(),
                                                 server_onupdate=FetchedValue())
    __table_args__ = (
        Index("ix_assets_org_change_position", "organization_id", "change_position"),
        _org_fk(["customer_id"], "customers", ["id"], ondelete="CASCADE"),
        CheckConstraint("length(btrim(name)) > 0", name="name_present"),
        Index("ix_assets_org_customer", "organization_id", "customer_id", text("id DESC")),
    )


class JobAsset(Base):
    __tablename__ = "job_assets"
    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    asset_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    __table_args__ = (
        _org_fk(["job_id"], "jobs", ["id"], ondelete="CASCADE"),
        _org_fk(["asset_id"], "assets", ["id"], ondelete="CASCADE"),
        Index("ix_job_assets_org_asset", "organization_id", "asset_id", "job_id"),
    )


class MapCapture(Base):
    __tablename__ = "map_captures"
    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column()
    job_id: Mapped[uuid.UUID | None] = mapped_column()
    captured_at: Mapped[datetime] = _now()
    latitude: Mapped[float] = mapped_column()
    longitude: Mapped[float] = mapped_column()
    geometry: Mapped[dict[str, Any] | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    captured_by_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    # The change feed's position: set by a trigger on every insert and update (migration 0007).
    change_position: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue(),
                                                 server_onupdate=FetchedValue())
    __table_args__ = (
        Index("ix_map_captures_org_change_position", "organization_id", "change_position"),
        _org_fk(["customer_id"], "customers", ["id"], ondelete="CASCADE"),
        _org_fk(["job_id"], "jobs", ["id"], ondelete="SET NULL (job_id)"),
        _org_fk(["captured_by_id"], "staff_members", ["id"],
                ondelete="SET NULL (captured_by_id)"),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        Index("ix_map_captures_org_customer", "organization_id", "customer_id", text("id DESC")),
        Index("ix_map_captures_org_job", "organization_id", "job_id", text("id DESC")),
        Index("ix_map_captures_org_id", "organization_id", text("id DESC")),
        # mapCaptures(within:): a latitude range, longitudes checked in the index (0010)
        Index("ix_map_captures_org_position", "organization_id", "latitude", "longitude"),
    )


# --- invitations ---------------------------------------------------------------------------


class Invitation(Base):
    __tablename__ = "invitations"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(Text)
    email_normalized: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    state: Mapped[InvitationState] = mapped_column(_enum(InvitationState, "invitation_state"))
    kind: Mapped[InvitationKind] = mapped_column(
        _enum(InvitationKind, "invitation_kind"), server_default=InvitationKind.EXTERNAL.value)
    role: Mapped[Role | None] = mapped_column(_enum(Role, "role"))  # STAFF invitations only
    # Two secrets, each stored as its SHA-256. `token_hash` is the copied link's (`inviteUrl`,
    # shown once to the admin); `emailed_token_hash` is the link that exists only inside the
    # sealed outbox email, so accepting with it proves the mailbox. Null for invitations
    # issued before the split: their one link proves nothing.
    # Unique within the organization (Citus enforces only keys holding organization_id);
    # indexed alone for the lookup by link (migration 0014).
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, index=True)
    emailed_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary, index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    last_sent_at: Mapped[datetime] = _now()
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        _org_fk(["invited_by_id"], "staff_members", ["id"], ondelete="SET NULL (invited_by_id)"),
        # One pending invitation per email per organization, enforced by the database.
        Index("uq_invitations_pending_email", "organization_id", "email_normalized",
              unique=True, postgresql_where=text("state = 'PENDING'")),
        Index("ix_invitations_org_state", "organization_id", "state", text("id DESC")),
        Index("ix_invitations_org_id", "organization_id", text("id DESC")),
        CheckConstraint("(kind = 'STAFF') = (role IS NOT NULL)", name="role_for_staff"),
        UniqueConstraint("organization_id", "token_hash"),
        UniqueConstraint("organization_id", "emailed_token_hash"),
    )


class InvitationCustomer(Base):
    __tablename__ = "invitation_customers"
    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    invitation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    __table_args__ = (
        _org_fk(["invitation_id"], "invitations", ["id"], ondelete="CASCADE"),
        _org_fk(["customer_id"], "customers", ["id"], ondelete="CASCADE"),
        Index("ix_invitation_customers_org_customer", "organization_id", "customer_id"),
    )


# --- credentials ---------------------------------------------------------------------------


class Session(Base):
    """A login session: acts inside exactly one organization."""

    __tablename__ = "sessions"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    # Unique within the organization; indexed alone for the viewer lookup (migration 0014).
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, index=True)
    created_at: Mapped[datetime] = _now()
    last_seen_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    client_address: Mapped[str | None] = mapped_column(INET)
    # The session this one was minted from (switchOrganization), possibly in another
    # organization, hence no foreign key: ending a session ends its descendants.
    parent_session_id: Mapped[uuid.UUID | None] = mapped_column()
    # The primary's WAL position after this credential's last write (replicas.py).
    write_lsn: Mapped[int | None] = mapped_column(BigInteger, server_default=text(WAL_POSITION))
    __table_args__ = (
        Index("ix_sessions_org_person", "organization_id", "person_id"),
        Index("ix_sessions_parent", "parent_session_id",
              postgresql_where=text("parent_session_id IS NOT NULL")),
        # A password reset or change ends the person's live sessions in every organization.
        Index("ix_sessions_person_live", "person_id", postgresql_where=text("ended_at IS NULL")),
        UniqueConstraint("organization_id", "token_hash"),
    )


class ApiToken(Base):
    """A personal token for partner integrations: acts with its owner's audience and scope."""

    __tablename__ = "api_tokens"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, index=True)  # see Session
    created_at: Mapped[datetime] = _now()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The session that made it: revoking what that session derives from revokes the token.
    session_id: Mapped[uuid.UUID | None] = mapped_column()
    write_lsn: Mapped[int | None] = mapped_column(BigInteger, server_default=text(WAL_POSITION))
    __table_args__ = (
        Index("ix_api_tokens_org_person", "organization_id", "person_id"),
        Index("ix_api_tokens_session", "session_id",
              postgresql_where=text("session_id IS NOT NULL")),
        Index("ix_api_tokens_person_live", "person_id",
              postgresql_where=text("revoked_at IS NULL")),
        UniqueConstraint("organization_id", "token_hash"),
    )


class PasswordReset(Base):
    """A single-use "forgot password" link: only its SHA-256 is stored; it lives one hour."""

    __tablename__ = "password_resets"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    client_address: Mapped[str | None] = mapped_column(INET)
    __table_args__ = (Index("ix_password_resets_person", "person_id"),)


# --- audit, mail, limits -------------------------------------------------------------------


class AuditEvent(Base):
    __tablename__ = "audit_events"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    occurred_at: Mapped[datetime] = _now()
    action: Mapped[str] = mapped_column(Text)
    actor_person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL")
    )
    target_person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL")
    )
    target_email: Mapped[str | None] = mapped_column(Text)
    invitation_id: Mapped[uuid.UUID | None] = mapped_column()
    customer_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default="{}"
    )
    client_address: Mapped[str | None] = mapped_column(INET)
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    __table_args__ = (Index("ix_audit_events_org_id", "organization_id", text("id DESC")),)


class DomainEvent(Base):
    """Something that happened to a row, told to listeners when its transaction commits
    (portal_graph/events). Kept a few days (the housekeeping sweep), for catching up."""

    __tablename__ = "domain_events"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    # One sequence for every organization: positions increase in the order events are written.
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    subject_type: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[uuid.UUID] = mapped_column()
    customer_id: Mapped[uuid.UUID | None] = mapped_column()
    occurred_at: Mapped[datetime] = _now()
    __table_args__ = (
        Index("ix_domain_events_id", "id"),  # a worker reading every organization's in order
        Index("ix_domain_events_occurred_at", "occurred_at"),  # the sweep
    )


# --- the change feed's history (portal_graph/feed, docs/FEED.md) ---------------------------
# Written only by triggers (migration 0007). No foreign keys to the rows they tell of: the
# history outlives them.


class FeedTombstone(Base):
    """A deleted customer, job, capture or asset, at the position of its deletion."""

    __tablename__ = "feed_tombstones"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entity: Mapped[str] = mapped_column(Text)  # the GraphQL type name
    row_id: Mapped[uuid.UUID] = mapped_column()
    customer_id: Mapped[uuid.UUID] = mapped_column()
    deleted_at: Mapped[datetime] = _now()


class FeedPublicPeriod(Base):
    """[since, until) positions during which a row was visible to whoever held a grant of its
    customer (a job while COMPLETED, ...); `until` is null while it still is."""

    __tablename__ = "feed_public_periods"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    entity: Mapped[str] = mapped_column(Text, primary_key=True)
    row_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    since_position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    until_position: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[uuid.UUID] = mapped_column()
    __table_args__ = (
        # "Could this viewer ever see it": from the viewer's grant periods to their rows.
        Index("ix_feed_public_periods_org_customer", "organization_id", "customer_id", "entity",
              "row_id"),
    )


class FeedGrantPeriod(Base):
    """[since, until) positions during which an external user held a grant of a customer."""

    __tablename__ = "feed_grant_periods"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    external_user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    since_position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    until_position: Mapped[int | None] = mapped_column(BigInteger)


# --- webhooks (portal_graph/webhooks) ------------------------------------------------------


class WebhookEndpoint(Base):
    """Where events are POSTed: the organization's (registered by admins; owner null) or an
    external user's own (receiving only events about rows in their scope at delivery time)."""

    __tablename__ = "webhook_endpoints"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    owner_external_user_id: Mapped[uuid.UUID | None] = mapped_column()
    event_kinds: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # The signing secret, encrypted with SECRET_KEY (it is needed to sign every delivery).
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(server_default=true())
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        _org_fk(["owner_external_user_id"], "external_users", ["id"], ondelete="CASCADE"),
        Index("ix_webhook_endpoints_org_owner", "organization_id", "owner_external_user_id"),
    )


class WebhookDelivery(Base):
    """One event for one endpoint, delivered by a worker under a lease (like `email_outbox`).
    Its id is the `webhook-id` header: the same on every attempt, so receivers deduplicate."""

    __tablename__ = "webhook_deliveries"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    endpoint_id: Mapped[uuid.UUID] = mapped_column()
    event_position: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(Text)
    subject_type: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[uuid.UUID] = mapped_column()
    customer_id: Mapped[uuid.UUID | None] = mapped_column()
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(Text, server_default="QUEUED")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = _now()
    response_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_token: Mapped[uuid.UUID | None] = mapped_column()
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        _org_fk(["endpoint_id"], "webhook_endpoints", ["id"], ondelete="CASCADE"),
        CheckConstraint("status IN ('QUEUED', 'DELIVERED', 'FAILED', 'SKIPPED')",
                        name="status"),
        CheckConstraint("(lease_token IS NULL) = (lease_expires_at IS NULL) "
                        "AND (lease_token IS NULL OR status = 'QUEUED')", name="lease"),
        Index("ix_webhook_deliveries_due", "next_attempt_at",
              postgresql_where=text("status = 'QUEUED'")),
        Index("ix_webhook_deliveries_org_endpoint", "organization_id", "endpoint_id",
              text("id DESC")),
    )


class OutboxEmail(Base):
    """Transactional outbox: written with the change, sent by a worker under a lease.

    A worker claims a due email by giving it a lease (a token of its own and an expiry) in a
    transaction it commits before it talks to SMTP; other workers skip an email whose lease is
    live. The outcome is recorded only while the token is still the claimer's. An expired lease
    (its worker died mid-send) is claimed again. `status` stays QUEUED while leased.
    """

    __tablename__ = "email_outbox"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    invitation_id: Mapped[uuid.UUID | None] = mapped_column()
    template: Mapped[str] = mapped_column(Text)
    to_address: Mapped[str] = mapped_column(Text)
    # Template parameters without secrets; the secret part (the invite link) is encrypted
    # with the configured key and erased once the message is sent.
    params: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus, "outbox_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = _now()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_token: Mapped[uuid.UUID | None] = mapped_column()
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        _org_fk(["invitation_id"], "invitations", ["id"], ondelete="CASCADE"),
        # A lease is whole (token and expiry) and only ever on an email still to be sent.
        CheckConstraint("(lease_token IS NULL) = (lease_expires_at IS NULL) "
                        "AND (lease_token IS NULL OR status = 'QUEUED')", name="lease"),
        # The worker's claim query scans only due, queued rows.
        Index("ix_email_outbox_due", "next_attempt_at",
              postgresql_where=text("status = 'QUEUED'")),
        Index("ix_email_outbox_org_invitation", "organization_id", "invitation_id",
              text("id DESC")),
    )


class RateLimitCounter(Base):
    """Fixed-window counters shared by every server process."""

    __tablename__ = "rate_limit_counters"
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    __table_args__ = (Index("ix_rate_limit_counters_window", "window_start"),)


class CostBucket(Base):
    """A leaky bucket of query cost per API token, session or anonymous address, shared by
    every server process (portal_graph/cost_buckets.py). `used` is the level at
    `updated_at`; it drains at the audience's restore rate from then on."""

    __tablename__ = "cost_buckets"
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    used: Mapped[float] = mapped_column(Double)
    admitted: Mapped[bool] = mapped_column()  # whether the last charge was let through
    updated_at: Mapped[datetime] = _now()
    __table_args__ = (Index("ix_cost_buckets_updated_at", "updated_at"),)


class TrustedDocument(Base):
    """A GraphQL document stored by `portal-graph documents add`, known by its SHA-256.

    Not a tenant table: documents are the API's clients' code, the same for every
    organization (like the schema), and hold no data.
    """

    __tablename__ = "trusted_documents"
    id: Mapped[str] = mapped_column(Text, primary_key=True)  # "sha256:<64 hex digits>"
    body: Mapped[str] = mapped_column(Text)
    operation_names: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("id ~ '^sha256:[0-9a-f]{64}$'", name="id_format"),)


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, typed as a Table (SQLAlchemy types it as a FromClause)."""
    return model.__table__  # type: ignore[return-value]
