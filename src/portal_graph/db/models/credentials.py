"""What lets a person in: invitations, sessions, API tokens and password resets. Each secret is
stored as its SHA-256 only."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from portal_graph.db.models.accounts import Role
from portal_graph.db.models.base import (
    WAL_POSITION,
    Base,
    Identified,
    InOrganization,
    OwnedByOrganization,
    links,
    pg_enum,
    stamped,
    tenant_reference,
)


class InvitationState(enum.Enum):
    """Stored state; EXPIRED is derived from `expires_at` against the database clock."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REVOKED = "REVOKED"


class InvitationKind(enum.Enum):
    """EXTERNAL: a client contact scoped to customers. STAFF: an employee login with a role."""

    EXTERNAL = "EXTERNAL"
    STAFF = "STAFF"


class Invitation(OwnedByOrganization, Identified, Base):
    __tablename__ = "invitations"
    email: Mapped[str]
    email_normalized: Mapped[str]
    name: Mapped[str | None]
    state: Mapped[InvitationState] = mapped_column(pg_enum(InvitationState, "invitation_state"))
    kind: Mapped[InvitationKind] = mapped_column(
        pg_enum(InvitationKind, "invitation_kind"), server_default=InvitationKind.EXTERNAL.value)
    role: Mapped[Role | None] = mapped_column(pg_enum(Role, "role"))  # STAFF invitations only
    # Two secrets, each stored as its SHA-256. `token_hash` is the copied link's (`inviteUrl`,
    # shown once to the admin); `emailed_token_hash` is the link that exists only inside the
    # sealed outbox email, so accepting with it proves the mailbox. Null for invitations
    # issued before the split: their one link proves nothing.
    # Unique within the organization (Citus enforces only keys holding organization_id);
    # indexed alone for the lookup by link (migration 0014).
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, index=True)
    emailed_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary, index=True)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = stamped()
    last_sent_at: Mapped[datetime] = stamped()
    invited_by_id: Mapped[uuid.UUID | None]
    accepted_at: Mapped[datetime | None]
    accepted_person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None]
    __table_args__ = (
        tenant_reference(["invited_by_id"], "staff_members", ["id"],
                         ondelete="SET NULL (invited_by_id)"),
        # One pending invitation per email per organization, enforced by the database.
        Index("uq_invitations_pending_email", "organization_id", "email_normalized",
              unique=True, postgresql_where=text("state = 'PENDING'")),
        Index("ix_invitations_org_state", "organization_id", "state", text("id DESC")),
        Index("ix_invitations_org_id", "organization_id", text("id DESC")),
        CheckConstraint("(kind = 'STAFF') = (role IS NOT NULL)", name="role_for_staff"),
        UniqueConstraint("organization_id", "token_hash"),
        UniqueConstraint("organization_id", "emailed_token_hash"),
    )


class InvitationCustomer(InOrganization, Base):
    """A customer an external invitation will grant on acceptance."""

    __tablename__ = "invitation_customers"
    invitation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    __table_args__ = (
        *links(invitation_id="invitations", customer_id="customers"),
        Index("ix_invitation_customers_org_customer", "organization_id", "customer_id"),
    )


def _credential_keys(table: str) -> tuple[Index, UniqueConstraint]:
    """A credential is listed by its person, and found by its digest within its organization
    (Citus enforces only keys holding organization_id; migration 0014)."""
    return (Index(f"ix_{table}_org_person", "organization_id", "person_id"),
            UniqueConstraint("organization_id", "token_hash"))


class Session(OwnedByOrganization, Identified, Base):
    """A login session: acts inside exactly one organization."""

    __tablename__ = "sessions"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    # Unique within the organization; indexed alone for the viewer lookup (migration 0014).
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, index=True)
    created_at: Mapped[datetime] = stamped()
    last_seen_at: Mapped[datetime] = stamped()
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    client_address: Mapped[str | None] = mapped_column(INET)
    # The session this one was minted from (switchOrganization), possibly in another
    # organization, hence no foreign key: ending a session ends its descendants.
    parent_session_id: Mapped[uuid.UUID | None]
    # The primary's WAL position after this credential's last write (replicas.py).
    write_lsn: Mapped[int | None] = mapped_column(BigInteger, server_default=text(WAL_POSITION))
    __table_args__ = (
        *_credential_keys("sessions"),
        Index("ix_sessions_parent", "parent_session_id",
              postgresql_where=text("parent_session_id IS NOT NULL")),
        # A password reset or change ends the person's live sessions in every organization.
        Index("ix_sessions_person_live", "person_id", postgresql_where=text("ended_at IS NULL")),
    )


class ApiToken(OwnedByOrganization, Identified, Base):
    """A personal token for partner integrations: acts with its owner's audience and scope."""

    __tablename__ = "api_tokens"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    name: Mapped[str]
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, index=True)  # see Session
    created_at: Mapped[datetime] = stamped()
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # The session that made it: revoking what that session derives from revokes the token.
    session_id: Mapped[uuid.UUID | None]
    write_lsn: Mapped[int | None] = mapped_column(BigInteger, server_default=text(WAL_POSITION))
    __table_args__ = (
        *_credential_keys("api_tokens"),
        Index("ix_api_tokens_session", "session_id",
              postgresql_where=text("session_id IS NOT NULL")),
        Index("ix_api_tokens_person_live", "person_id",
              postgresql_where=text("revoked_at IS NULL")),
    )


class PasswordReset(Identified, Base):
    """A single-use "forgot password" link: only its SHA-256 is stored; it lives one hour."""

    __tablename__ = "password_resets"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime] = stamped()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    client_address: Mapped[str | None] = mapped_column(INET)
    __table_args__ = (Index("ix_password_resets_person", "person_id"),)
