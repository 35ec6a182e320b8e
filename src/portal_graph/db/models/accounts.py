"""People and tenancy: organizations, persons, and a person's memberships of an organization."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from portal_graph.db.models.base import (
    Base,
    Identified,
    OwnedByOrganization,
    pg_enum,
    stamped,
)


class Role(enum.Enum):
    ADMIN = "ADMIN"
    MANAGER = "MANAGER"
    USER = "USER"


class Organization(Identified, Base):
    __tablename__ = "organizations"
    name: Mapped[str]
    invitation_ttl_days: Mapped[int] = mapped_column(SmallInteger, default=7)
    created_at: Mapped[datetime] = stamped()
    __table_args__ = (
        CheckConstraint("invitation_ttl_days BETWEEN 1 AND 30", name="ttl_range"),
        CheckConstraint("length(btrim(name)) > 0", name="name_present"),
    )


class Person(Identified, Base):
    """One login identity, shared by all the organizations the person belongs to."""

    __tablename__ = "persons"
    email: Mapped[str]
    # citext is not in the embedded PostgreSQL: a normalised copy carries the uniqueness.
    email_normalized: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str | None]
    password_hash: Mapped[str | None]
    created_at: Mapped[datetime] = stamped()
    # When the owner of the mailbox last proved it (an emailed link, a password reset). An
    # account without it is usable only where its password was set (docs/RULES.md).
    email_verified_at: Mapped[datetime | None]
    # For an account whose password someone other than the mailbox owner could have set (a
    # copied invite link, the operator's bootstrap): the organization it was set in. Null once
    # the mailbox is proven; null without proof for accounts made before this rule existed.
    password_set_in_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"))
    __table_args__ = (
        CheckConstraint("email_normalized = lower(email_normalized)", name="email_lower"),
    )


class StaffMember(OwnedByOrganization, Identified, Base):
    """Internal membership: an employee login of an organization."""

    __tablename__ = "staff_members"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(pg_enum(Role, "role"))
    created_at: Mapped[datetime] = stamped()
    # A deactivated member keeps the row (history, assignments) and acts for nobody.
    deactivated_at: Mapped[datetime | None]
    __table_args__ = (
        Index("uq_staff_members_org_person", "organization_id", "person_id", unique=True),
        Index("ix_staff_members_person", "person_id"),
    )


class ExternalUser(OwnedByOrganization, Identified, Base):
    """External membership: a client or council contact, scoped by customer grants."""

    __tablename__ = "external_users"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    invited_at: Mapped[datetime] = stamped()
    joined_at: Mapped[datetime] = stamped()
    last_seen_at: Mapped[datetime | None]
    # Set by "revoke all": the membership (and its history) remains, access does not.
    access_revoked_at: Mapped[datetime | None]
    __table_args__ = (
        Index("uq_external_users_org_person", "organization_id", "person_id", unique=True),
        Index("ix_external_users_person", "person_id"),
    )
