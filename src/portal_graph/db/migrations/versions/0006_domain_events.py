"""domain events

`domain_events`: what happened to which row, written in the transaction of the change and
notified on commit (portal_graph/events). A tenant table, so it gets row-level security like
every other (see 0005).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CONDITION = """(organization_id = (SELECT NULLIF(current_setting('app.organization_id', true),
   '')::uuid) OR (SELECT current_setting('app.system_context', true) <> ''))"""


def upgrade() -> None:
    op.create_table(
        "domain_events",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("subject_type", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE",
                                name=op.f("fk_domain_events_organization_id_organizations")),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_domain_events")),
    )
    op.create_index("ix_domain_events_id", "domain_events", ["id"])
    op.create_index("ix_domain_events_occurred_at", "domain_events", ["occurred_at"])
    op.execute("ALTER TABLE domain_events ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE domain_events FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_isolation ON domain_events "
               f"USING {CONDITION} WITH CHECK {CONDITION}")


def downgrade() -> None:
    op.drop_table("domain_events")
