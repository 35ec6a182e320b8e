"""the whole domain model

Tables, keys and indexes for every entity. Search indexes use pg_trgm where the server
offers it (the machine's PostgreSQL does; the embedded one does not) and are left out
otherwise, where search is a plain scan.

Created 2026-11-23.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from portal_graph.db.migrations.ddl import (
    link_table,
    moment,
    reference,
    stamp,
    tenant_entity,
    tenant_reference,
    uuid,
)

revision, down_revision = "0001", None

# In the order they are made (a table after those it refers to); dropped in reverse.
TABLES = ("organizations", "persons", "rate_limit_counters", "api_tokens", "audit_events",
          "external_users", "sessions", "staff_members", "customers", "assets",
          "customer_grants", "jobs", "job_assets", "job_assignments", "map_captures",
          "invitations", "email_outbox", "invitation_customers")
ENUMS = ("role", "invitation_state", "job_status", "outbox_status")


def _text(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _present(table: str, column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"length(btrim({column})) > 0",
                              name=op.f(f"ck_{table}_{column}_present"))


def _token_hash() -> sa.Column:
    """A secret's SHA-256: the secret itself is never stored."""
    return sa.Column("token_hash", sa.LargeBinary(), nullable=False)


def _credential(table: str, *columns: sa.Column) -> None:
    """A person's sign-in in one organization, known by its token's digest."""
    tenant_entity(
        table,
        uuid("person_id"),
        *columns,
        reference(table, "person_id", "persons", "CASCADE"),
        sa.UniqueConstraint("token_hash", name=op.f(f"uq_{table}_token_hash")),
    )
    op.create_index(f"ix_{table}_org_person", table, ["organization_id", "person_id"])


def _newest_first(*columns: str) -> list[Any]:
    return ["organization_id", *columns, sa.literal_column("id DESC")]


def upgrade() -> None:
    _organizations_and_people()
    _work()
    _invitations_and_mail()
    _search()


def _organizations_and_people() -> None:
    op.create_table(
        "organizations",
        uuid("id"),
        _text("name"),
        sa.Column("invitation_ttl_days", sa.SmallInteger(), nullable=False),
        stamp("created_at"),
        sa.CheckConstraint("invitation_ttl_days BETWEEN 1 AND 30",
                           name=op.f("ck_organizations_ttl_range")),
        _present("organizations", "name"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "persons",
        uuid("id"),
        _text("email"),
        _text("email_normalized"),
        _text("name", nullable=True),
        _text("password_hash", nullable=True),
        stamp("created_at"),
        sa.CheckConstraint("email_normalized = lower(email_normalized)",
                           name=op.f("ck_persons_email_lower")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("email_normalized", name=op.f("uq_persons_email_normalized")),
    )
    op.create_table(
        "rate_limit_counters",
        _text("key"),
        moment("window_start", nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_limit_counters")),
    )
    op.create_index("ix_rate_limit_counters_window", "rate_limit_counters", ["window_start"])
    _credential(
        "api_tokens",
        _text("name"),
        _token_hash(),
        stamp("created_at"),
        moment("last_used_at"),
        moment("expires_at"),
        moment("revoked_at"),
    )
    tenant_entity(
        "audit_events",
        stamp("occurred_at"),
        _text("action"),
        uuid("actor_person_id", nullable=True),
        uuid("target_person_id", nullable=True),
        _text("target_email", nullable=True),
        uuid("invitation_id", nullable=True),
        sa.Column("customer_ids", postgresql.ARRAY(sa.UUID()), server_default="{}",
                  nullable=False),
        sa.Column("client_address", postgresql.INET(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()),
                  server_default=sa.text("'{}'::jsonb"), nullable=False),
        reference("audit_events", "actor_person_id", "persons", "SET NULL"),
        reference("audit_events", "target_person_id", "persons", "SET NULL"),
    )
    op.create_index("ix_audit_events_org_id", "audit_events", _newest_first())
    tenant_entity(
        "external_users",
        uuid("person_id"),
        stamp("invited_at"),
        stamp("joined_at"),
        moment("last_seen_at"),
        moment("access_revoked_at"),
        reference("external_users", "person_id", "persons", "CASCADE"),
    )
    op.create_index("ix_external_users_person", "external_users", ["person_id"])
    op.create_index("uq_external_users_org_person", "external_users",
                    ["organization_id", "person_id"], unique=True)
    _credential(
        "sessions",
        _token_hash(),
        stamp("created_at"),
        stamp("last_seen_at"),
        moment("expires_at", nullable=False),
        moment("ended_at"),
        sa.Column("client_address", postgresql.INET(), nullable=True),
    )
    tenant_entity(
        "staff_members",
        uuid("person_id"),
        sa.Column("role", sa.Enum("ADMIN", "MANAGER", "USER", name="role"), nullable=False),
        stamp("created_at"),
        reference("staff_members", "person_id", "persons", "CASCADE"),
    )
    op.create_index("ix_staff_members_person", "staff_members", ["person_id"])
    op.create_index("uq_staff_members_org_person", "staff_members",
                    ["organization_id", "person_id"], unique=True)


def _work() -> None:
    tenant_entity(
        "customers",
        _text("name"),
        stamp("created_at"),
        _present("customers", "name"),
    )
    op.create_index("ix_customers_org_name", "customers", ["organization_id", "name", "id"])
    tenant_entity(
        "assets",
        uuid("customer_id"),
        _text("name"),
        _text("kind", nullable=True),
        _text("serial_number", nullable=True),
        _text("location", nullable=True),
        stamp("created_at"),
        _present("assets", "name"),
        tenant_reference("assets", "customer_id", "customers"),
        owned=False,
    )
    op.create_index("ix_assets_org_customer", "assets", _newest_first("customer_id"))
    link_table("customer_grants", ("external_user_id", "external_users"),
               ("customer_id", "customers"), stamp("granted_at"))
    op.create_index("ix_customer_grants_org_customer", "customer_grants",
                    ["organization_id", "customer_id"])
    tenant_entity(
        "jobs",
        uuid("customer_id"),
        _text("reference"),
        _text("title"),
        sa.Column("status", sa.Enum("SCHEDULED", "IN_PROGRESS", "COMPLETED", "CANCELLED",
                                    name="job_status"), nullable=False),
        moment("scheduled_for"),
        moment("completed_at"),
        _text("internal_notes", nullable=True),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=True),
        uuid("created_by_id", nullable=True),
        stamp("created_at"),
        _present("jobs", "title"),
        sa.CheckConstraint("price IS NULL OR price >= 0", name=op.f("ck_jobs_price_positive")),
        tenant_reference("jobs", "created_by_id", "staff_members", "SET NULL (created_by_id)"),
        tenant_reference("jobs", "customer_id", "customers"),
        owned=False,
    )
    op.create_index("ix_jobs_org_customer_status", "jobs",
                    _newest_first("customer_id", "status"))
    op.create_index("ix_jobs_org_id", "jobs", _newest_first())
    op.create_index("ix_jobs_org_status", "jobs", _newest_first("status"))
    op.create_index("uq_jobs_org_reference", "jobs", ["organization_id", "reference"],
                    unique=True)
    link_table("job_assets", ("job_id", "jobs"), ("asset_id", "assets"))
    op.create_index("ix_job_assets_org_asset", "job_assets",
                    ["organization_id", "asset_id", "job_id"])
    link_table("job_assignments", ("job_id", "jobs"), ("staff_member_id", "staff_members"))
    tenant_entity(
        "map_captures",
        uuid("customer_id"),
        uuid("job_id", nullable=True),
        stamp("captured_at"),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.Column("geometry", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        _text("note", nullable=True),
        uuid("captured_by_id", nullable=True),
        stamp("created_at"),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90",
                           name=op.f("ck_map_captures_latitude_range")),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180",
                           name=op.f("ck_map_captures_longitude_range")),
        tenant_reference("map_captures", "captured_by_id", "staff_members",
                         "SET NULL (captured_by_id)"),
        tenant_reference("map_captures", "customer_id", "customers"),
        tenant_reference("map_captures", "job_id", "jobs", "SET NULL (job_id)"),
        owned=False,
    )
    for name, columns in (("ix_map_captures_org_customer", ("customer_id",)),
                          ("ix_map_captures_org_id", ()),
                          ("ix_map_captures_org_job", ("job_id",))):
        op.create_index(name, "map_captures", _newest_first(*columns))


def _invitations_and_mail() -> None:
    tenant_entity(
        "invitations",
        _text("email"),
        _text("email_normalized"),
        _text("name", nullable=True),
        sa.Column("state", sa.Enum("PENDING", "ACCEPTED", "REVOKED", name="invitation_state"),
                  nullable=False),
        _token_hash(),
        moment("expires_at", nullable=False),
        stamp("created_at"),
        stamp("last_sent_at"),
        uuid("invited_by_id", nullable=True),
        moment("accepted_at"),
        uuid("accepted_person_id", nullable=True),
        moment("revoked_at"),
        reference("invitations", "accepted_person_id", "persons", "SET NULL"),
        tenant_reference("invitations", "invited_by_id", "staff_members",
                         "SET NULL (invited_by_id)"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index("ix_invitations_org_id", "invitations", _newest_first())
    op.create_index("ix_invitations_org_state", "invitations", _newest_first("state"))
    op.create_index("uq_invitations_pending_email", "invitations",
                    ["organization_id", "email_normalized"], unique=True,
                    postgresql_where=sa.text("state = 'PENDING'"))
    tenant_entity(
        "email_outbox",
        uuid("invitation_id", nullable=True),
        _text("template"),
        _text("to_address"),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()),
                  server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.Enum("QUEUED", "SENT", "FAILED", name="outbox_status"),
                  nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        stamp("next_attempt_at"),
        _text("last_error", nullable=True),
        stamp("created_at"),
        moment("sent_at"),
        tenant_reference("email_outbox", "invitation_id", "invitations"),
    )
    op.create_index("ix_email_outbox_due", "email_outbox", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'QUEUED'"))
    op.create_index("ix_email_outbox_org_invitation", "email_outbox",
                    _newest_first("invitation_id"))
    link_table("invitation_customers", ("invitation_id", "invitations"),
               ("customer_id", "customers"))
    op.create_index("ix_invitation_customers_org_customer", "invitation_customers",
                    ["organization_id", "customer_id"])


def _search() -> None:
    """Search (external users by name/email/company; customers by name). Trigram indexes only
    where the server has pg_trgm; chosen here, at migration time."""
    bind = op.get_bind()
    has_trgm = (
        bind.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        ).scalar()
        is not None
    )
    if has_trgm:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, column in (
            ("persons", "email_normalized"),
            ("persons", "lower(name)"),
            ("customers", "lower(name)"),
        ):
            name = f"ix_{table}_{column.replace('lower(', '').rstrip(')')}_trgm"
            op.execute(f"CREATE INDEX {name} ON {table} USING gin (({column}) gin_trgm_ops)")


def downgrade() -> None:
    # A table takes its indexes (the trigram ones too) and constraints with it.
    for table in reversed(TABLES):
        op.drop_table(table)
    for enum_name in ENUMS:
        op.execute(f"DROP TYPE IF EXISTS {enum_name}")
