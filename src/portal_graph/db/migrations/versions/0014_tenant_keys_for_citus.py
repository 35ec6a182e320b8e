"""every unique key of a tenant table includes organization_id; credentials' write_lsn

Citus distributes a table by one column and can enforce only the unique keys that contain it.
The token digests of sessions, API tokens and invitations were unique on their own; they are now
unique within their organization, with a plain index for the lookup by digest that does not know
the organization yet (the viewer lookup, an invitation's link). A digest is 256 random bits
hashed, so a clash across organizations is as unlikely as guessing a token.

`sessions.write_lsn` and `api_tokens.write_lsn`: the primary's WAL position (bytes from 0/0)
after the credential's last write, so that a read replica serves its reads only once it has
replayed that far (replicas.py). A new credential starts at the position of its creating
statement.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0014", "0008"

WAL_POSITION = "(pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
DIGESTS = (("sessions", "token_hash"), ("api_tokens", "token_hash"),
           ("invitations", "token_hash"), ("invitations", "emailed_token_hash"))


def upgrade() -> None:
    for table, column in DIGESTS:
        op.drop_constraint(f"uq_{table}_{column}", table, type_="unique")
        op.create_unique_constraint(f"uq_{table}_organization_id_{column}", table,
                                    ["organization_id", column])
        op.create_index(f"ix_{table}_{column}", table, [column])
    for table in ("sessions", "api_tokens"):
        op.add_column(table, sa.Column("write_lsn", sa.BigInteger(),
                                       server_default=sa.text(WAL_POSITION)))


def downgrade() -> None:
    for table in ("sessions", "api_tokens"):
        op.drop_column(table, "write_lsn")
    for table, column in DIGESTS:
        op.drop_index(f"ix_{table}_{column}", table)
        op.drop_constraint(f"uq_{table}_organization_id_{column}", table, type_="unique")
        op.create_unique_constraint(f"uq_{table}_{column}", table, [column])
