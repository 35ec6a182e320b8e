"""row-level security on every tenant table

PostgreSQL's own wall under the Scope layer (see portal_graph/db/tenancy.py): every table with
an `organization_id` column, found in the catalog when this runs (so tables added by earlier
revisions are covered too), and `organizations` itself, get ROW LEVEL SECURITY enabled and
FORCED (so the tables' owner, which is DATABASE_URL's role on a managed server, is bound too)
and one policy: the row's organization is the transaction's `app.organization_id`, or the
transaction runs in a named system context (`app.system_context`). Both settings are
transaction-local; unset or empty, the policy lets nothing through.

A table added later needs the same in its own migration (`ddl.tenant_policy`);
tests/tenancy/test_row_level_security.py fails until it has it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from portal_graph.db.migrations.ddl import POLICY, tenant_policy

revision, down_revision = "0005", "0004"

TENANT_TABLES = sa.text("""
    SELECT c.relname
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id'
                       AND NOT a.attisdropped
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
    ORDER BY c.relname
""")


def _tables() -> list[tuple[str, str]]:
    """(table, the column that names its organization)."""
    names = op.get_bind().execute(TENANT_TABLES).scalars().all()
    return [("organizations", "id"), *((name, "organization_id") for name in names)]


def upgrade() -> None:
    for table, column in _tables():
        tenant_policy(table, column)


def downgrade() -> None:
    for table, _ in _tables():
        op.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
        op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
