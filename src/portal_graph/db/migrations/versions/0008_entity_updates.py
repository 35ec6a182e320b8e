"""entity updates: updated_at for optimistic concurrency, archived customers

Staff correct customers, jobs, assets and map captures (issue 13). Each of those rows gets an
`updated_at`, moved forward by every change, which a client sends back as `expectedUpdatedAt`:
an update made meanwhile by someone else answers STALE_OBJECT instead of being overwritten.
Customers get `archived_at`: an archived customer disappears from external users' portals
(scope.py) and cannot be invited to; its jobs, captures and grants stay.

Both are plain column additions with a non-volatile default: no table rewrite.

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

UPDATED = ("customers", "jobs", "assets", "map_captures")


def upgrade() -> None:
    for table in UPDATED:
        op.add_column(table, sa.Column("updated_at", sa.DateTime(timezone=True),
                                       server_default=sa.text("now()"), nullable=False))
    op.add_column("customers", sa.Column("archived_at", sa.DateTime(timezone=True),
                                         nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "archived_at")
    for table in UPDATED:
        op.drop_column(table, "updated_at")
