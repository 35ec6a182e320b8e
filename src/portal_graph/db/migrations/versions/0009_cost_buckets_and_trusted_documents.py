"""cost buckets and trusted documents

`cost_buckets`: the leaky buckets of query cost (portal_graph/cost_buckets.py), one row per
API token, session or anonymous address, shared by every server process.
`trusted_documents`: GraphQL documents stored by `portal-graph documents add`, by SHA-256.
Neither holds tenant rows (a bucket's key names a credential, a document is client code), so
neither has an organization_id or a row-level policy, like `rate_limit_counters`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from portal_graph.db.migrations.ddl import stamp

revision, down_revision = "0009", "0007"  # after the change feed and webhooks (0007)


def upgrade() -> None:
    op.create_table(
        "cost_buckets",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("used", sa.Double(), nullable=False),
        sa.Column("admitted", sa.Boolean(), nullable=False),
        stamp("updated_at"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_cost_buckets")),
    )
    op.create_index("ix_cost_buckets_updated_at", "cost_buckets", ["updated_at"])
    op.create_table(
        "trusted_documents",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("operation_names", postgresql.ARRAY(sa.Text()), nullable=False),
        stamp("created_at"),
        sa.CheckConstraint("id ~ '^sha256:[0-9a-f]{64}$'",
                           name=op.f("ck_trusted_documents_id_format")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_documents")),
    )


def downgrade() -> None:
    op.drop_table("trusted_documents")
    op.drop_index("ix_cost_buckets_updated_at", table_name="cost_buckets")
    op.drop_table("cost_buckets")
