"""search indexes without pending lists

The trigram (GIN) indexes of the search are written through: with `fastupdate` (GIN's
default), new entries wait in a pending list that every search scans in full until a vacuum
merges it. After loading 20,000 external users that list made the name index 6.7 ms to search
instead of 0.04 ms, so the planner preferred reading every person. Persons and customers are
written rarely (an accepted invitation, a new customer) and searched often.

Created 2026-12-02.
"""

from __future__ import annotations

from alembic import op

revision, down_revision = "0003", "0002"

# Created by 0001 only where the server has pg_trgm.
TRIGRAM_INDEXES = ("ix_persons_email_normalized_trgm", "ix_persons_name_trgm",
                   "ix_customers_name_trgm")


def _each_existing(statement: str) -> None:
    for index in TRIGRAM_INDEXES:
        op.execute(f"""
            DO $$ BEGIN
              IF to_regclass('{index}') IS NOT NULL THEN {statement.format(index=index)};
              END IF;
            END $$""")


def upgrade() -> None:
    # Turning fastupdate off keeps new entries out of the list; what is in it is merged now.
    _each_existing("ALTER INDEX {index} SET (fastupdate = off); "
                   "PERFORM gin_clean_pending_list('{index}'::regclass)")


def downgrade() -> None:
    _each_existing("ALTER INDEX {index} RESET (fastupdate)")
