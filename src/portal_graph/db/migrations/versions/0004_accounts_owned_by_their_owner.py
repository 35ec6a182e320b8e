"""accounts owned by their owner

docs/RULES.md: staff join by invitation (an invitation kind and a role), invitations carry a
second, emailed-only secret, persons record whether their mailbox is proven and where an
unproven password was set, staff members can be deactivated, sessions remember the session
they were switched from and API tokens the session that made them, and "forgot password"
links are kept as digests.

Accounts that exist when this runs are not proven: each proves its mailbox once (an emailed
invitation link, or a password reset) before joining another organization.

Created 2026-12-02.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from portal_graph.db.migrations.ddl import moment, reference, stamp, uuid

revision, down_revision = "0004", "0003"

INVITATION_KIND = postgresql.ENUM("EXTERNAL", "STAFF", name="invitation_kind")
ROLE = postgresql.ENUM("ADMIN", "MANAGER", "USER", name="role", create_type=False)


def upgrade() -> None:
    op.add_column("persons", sa.Column("email_verified_at", sa.DateTime(timezone=True)))
    op.add_column("persons", sa.Column("password_set_in_organization_id", sa.UUID()))
    op.create_foreign_key(
        op.f("fk_persons_password_set_in_organization_id_organizations"), "persons",
        "organizations", ["password_set_in_organization_id"], ["id"], ondelete="SET NULL")

    op.add_column("staff_members", sa.Column("deactivated_at", sa.DateTime(timezone=True)))

    INVITATION_KIND.create(op.get_bind())
    op.add_column("invitations", sa.Column(
        "kind", postgresql.ENUM(name="invitation_kind", create_type=False),
        server_default="EXTERNAL", nullable=False))
    op.add_column("invitations", sa.Column("role", ROLE))
    op.add_column("invitations", sa.Column("emailed_token_hash", sa.LargeBinary()))
    op.create_unique_constraint(op.f("uq_invitations_emailed_token_hash"), "invitations",
                                ["emailed_token_hash"])
    op.create_check_constraint(op.f("ck_invitations_role_for_staff"), "invitations",
                               "(kind = 'STAFF') = (role IS NOT NULL)")

    op.add_column("sessions", sa.Column("parent_session_id", sa.UUID()))
    op.create_index("ix_sessions_parent", "sessions", ["parent_session_id"],
                    postgresql_where=sa.text("parent_session_id IS NOT NULL"))
    op.create_index("ix_sessions_person_live", "sessions", ["person_id"],
                    postgresql_where=sa.text("ended_at IS NULL"))
    op.add_column("api_tokens", sa.Column("session_id", sa.UUID()))
    op.create_index("ix_api_tokens_session", "api_tokens", ["session_id"],
                    postgresql_where=sa.text("session_id IS NOT NULL"))
    op.create_index("ix_api_tokens_person_live", "api_tokens", ["person_id"],
                    postgresql_where=sa.text("revoked_at IS NULL"))

    op.create_table(
        "password_resets",
        uuid("id"),
        uuid("person_id"),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        stamp("created_at"),
        moment("expires_at", nullable=False),
        moment("used_at"),
        sa.Column("client_address", postgresql.INET()),
        reference("password_resets", "person_id", "persons", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    op.create_index("ix_password_resets_person", "password_resets", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_password_resets_person", table_name="password_resets")
    op.drop_table("password_resets")
    op.drop_index("ix_api_tokens_person_live", table_name="api_tokens")
    op.drop_index("ix_api_tokens_session", table_name="api_tokens")
    op.drop_column("api_tokens", "session_id")
    op.drop_index("ix_sessions_person_live", table_name="sessions")
    op.drop_index("ix_sessions_parent", table_name="sessions")
    op.drop_column("sessions", "parent_session_id")
    op.drop_constraint(op.f("ck_invitations_role_for_staff"), "invitations", type_="check")
    op.drop_constraint(op.f("uq_invitations_emailed_token_hash"), "invitations",
                       type_="unique")
    op.drop_column("invitations", "emailed_token_hash")
    op.drop_column("invitations", "role")
    op.drop_column("invitations", "kind")
    INVITATION_KIND.drop(op.get_bind())
    op.drop_column("staff_members", "deactivated_at")
    op.drop_constraint(op.f("fk_persons_password_set_in_organization_id_organizations"),
                       "persons", type_="foreignkey")
    op.drop_column("persons", "password_set_in_organization_id")
    op.drop_column("persons", "email_verified_at")
