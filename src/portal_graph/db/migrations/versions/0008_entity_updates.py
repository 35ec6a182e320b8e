"""entity updates: updated_at for optimistic concurrency, archived customers

Staff correct customers, jobs, assets and map captures (issue 13). Each of those rows gets an
`updated_at`, moved forward by every change, which a client sends back as `expectedUpdatedAt`:
an update made meanwhile by someone else answers STALE_OBJECT instead of being overwritten.
Customers get `archived_at`: an archived customer disappears from external users' portals
(scope.py) and cannot be invited to; its jobs, captures and grants stay.

Both are plain column additions with a non-volatile default: no table rewrite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from portal_graph.db.migrations.ddl import stamp

revision, down_revision = "0008", "0006"

UPDATED = ("customers", "jobs", "assets", "map_captures")


def upgrade() -> None:
    for table in UPDATED:
        op.add_column(table, stamp("updated_at"))
    op.add_column("customers", sa.Column("archived_at", sa.DateTime(timezone=True),
                                         nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "archived_at")
    for table in UPDATED:
        op.drop_column(table, "updated_at")
