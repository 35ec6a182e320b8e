"""domain events

`domain_events`: what happened to which row, written in the transaction of the change and
notified on commit (portal_graph/events). A tenant table, so it gets row-level security like
every other (see 0005).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from portal_graph.db.migrations.ddl import stamp, tenant_policy, tenant_table

revision, down_revision = "0006", "0005"


def upgrade() -> None:
    tenant_table(
        "domain_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("subject_type", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        stamp("occurred_at"),
        key=("id",),
    )
    op.create_index("ix_domain_events_id", "domain_events", ["id"])
    op.create_index("ix_domain_events_occurred_at", "domain_events", ["occurred_at"])
    tenant_policy("domain_events")


def downgrade() -> None:
    op.drop_table("domain_events")
