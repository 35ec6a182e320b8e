"""The shapes the migrations build tables from: tenant keys, stamps, foreign keys, the policy.

A revision is history: the database it made must stay what it was. So once a revision calls a
function here, what that function emits for the same arguments never changes; a new shape is a
new function (or a new argument whose default keeps the old result).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

POLICY = "tenant_isolation"
# The row's organization is the transaction's `app.organization_id`, or the transaction runs in
# a named system context (portal_graph/db/tenancy.py). NULLIF: after a transaction that set it,
# the setting reads '' rather than NULL ('' is no uuid). Each setting is read in a scalar
# subquery, which PostgreSQL evaluates once per statement (an InitPlan) instead of once per row:
# on a 100,000-row scan, 11 ms instead of 43 ms (no policy: 10 ms).
CONDITION = """({column} = (SELECT NULLIF(current_setting('app.organization_id', true), '')::uuid)
   OR (SELECT current_setting('app.system_context', true) <> ''))"""


def tenant_policy(table: str, column: str = "organization_id") -> None:
    """Row-level security enabled and FORCED on `table` (so its owner is bound too), with the
    one policy over the column that names the row's organization."""
    condition = CONDITION.format(column=column)
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    op.execute(f'CREATE POLICY {POLICY} ON "{table}" USING {condition} WITH CHECK {condition}')


def stamp(name: str) -> sa.Column:
    """A moment that is always known, the database's clock when not given."""
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"),
                     nullable=False)


def moment(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def uuid(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.UUID(), nullable=nullable)


def tenant_table(name: str, *items: sa.Column | sa.Constraint, key: tuple[str, ...],
                 owned: bool = True) -> None:
    """A table of one organization's rows: `organization_id` is its first column and leads its
    primary key. Owned: a foreign key to the organization, which takes the rows with it; else
    the table's foreign keys to its parents carry `organization_id` instead."""
    owner = [sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                     name=op.f(f"fk_{name}_organization_id_organizations"),
                                     ondelete="CASCADE")] if owned else []
    op.create_table(
        name,
        uuid("organization_id"),
        *items,
        *owner,
        sa.PrimaryKeyConstraint("organization_id", *key, name=op.f(f"pk_{name}")),
    )


def tenant_entity(name: str, *items: sa.Column | sa.Constraint, owned: bool = True) -> None:
    """A tenant table whose rows are known by a UUID `id` within their organization."""
    tenant_table(name, uuid("id"), *items, key=("id",), owned=owned)


def reference(table: str, column: str, referred: str, ondelete: str) -> sa.ForeignKeyConstraint:
    """`column` names a row of `referred` (a table outside the tenancy, keyed by `id`)."""
    return sa.ForeignKeyConstraint([column], [f"{referred}.id"],
                                   name=op.f(f"fk_{table}_{column}_{referred}"), ondelete=ondelete)


def tenant_reference(table: str, column: str, referred: str,
                     ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    """`column` names a row of the tenant table `referred` in the same organization: the key
    includes `organization_id`, so no row points into another organization."""
    return sa.ForeignKeyConstraint(
        ["organization_id", column], [f"{referred}.organization_id", f"{referred}.id"],
        name=op.f(f"fk_{table}_organization_id_{column}_{referred}"), ondelete=ondelete)


def link_table(name: str, left: tuple[str, str], right: tuple[str, str], *extra: sa.Column) -> None:
    """Which rows of one tenant table go with which of another: (column, referred table) each,
    both in the primary key, each deleted with its row."""
    tenant_table(name, uuid(left[0]), uuid(right[0]), *extra,
                 tenant_reference(name, *right), tenant_reference(name, *left),
                 key=(left[0], right[0]), owned=False)
