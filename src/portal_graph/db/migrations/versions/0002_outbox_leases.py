"""outbox leases

An email is claimed for sending with a lease (a claim token and an expiry) committed before the
worker talks to SMTP, instead of a row lock held through the send: a lock dies with its
connection, so a database restart mid-send let another process send the email again.

Created 2026-12-02.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0002", "0001"


def upgrade() -> None:
    op.add_column("email_outbox", sa.Column("lease_token", sa.UUID(), nullable=True))
    op.add_column(
        "email_outbox",
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_check_constraint(
        op.f("ck_email_outbox_lease"),
        "email_outbox",
        "(lease_token IS NULL) = (lease_expires_at IS NULL) "
        "AND (lease_token IS NULL OR status = 'QUEUED')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_email_outbox_lease"), "email_outbox", type_="check")
    op.drop_column("email_outbox", "lease_expires_at")
    op.drop_column("email_outbox", "lease_token")
