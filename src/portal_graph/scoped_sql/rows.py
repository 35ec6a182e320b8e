"""Reading rows by id through the viewer's scope, and changing one row as it was read: the one
way, for services and loaders."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, func, literal_column, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row

from portal_graph.db.session import RequestSession
from portal_graph.scope import Scope, scoped, visible
from portal_graph.scoped_sql import shapes

_BY_IDS = shapes.Shapes()


def _by_ids(scope: Scope, table: Table) -> Select[Any]:
    return _BY_IDS.get(scope, (table,),
                       lambda: scoped(scope, table).where(shapes.one_of(table.c.id, "ids")))


async def visible_by_ids(session: RequestSession, scope: Scope, table: Table,
                         ids: Sequence[uuid.UUID] | Sequence[Hashable]) -> dict[Any, Row[Any]]:
    """The rows of `table` with these ids that the scope may see; out of scope = absent."""
    if not ids:
        return {}
    rows = await shapes.execute(session, _by_ids(scope, table), scope, ids=list(ids))
    return {row.id: row for row in rows.all()}


async def listing_by_ids(session: RequestSession, scope: Scope, kept: shapes.Shapes,
                         listing: Callable[[Scope], Select[Any]], id_column: ColumnElement[Any],
                         ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
    """The rows of a repository's `listing` with these ids (its statement kept in `kept`, the
    repository's own shapes), by id; out of scope = absent."""
    statement = kept.get(scope, ("by_ids",), lambda: listing(scope).where(
        shapes.one_of(id_column, "ids")))
    rows = await shapes.execute(session, statement, scope, ids=list(ids))
    return {row.id: row for row in rows.all()}


async def grouped_by(session: RequestSession, scope: Scope, statement: Select[Any], by: str,
                     **keys: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Row[Any]]]:
    """The rows of a kept `statement` under the key in their column `by`: a list, maybe empty,
    for every key asked for. `keys` is the one parameter naming them (`job_ids=[...]`)."""
    (name, wanted), = keys.items()
    grouped: dict[uuid.UUID, list[Row[Any]]] = {key: [] for key in wanted}
    for row in (await shapes.execute(session, statement, scope, **{name: list(wanted)})).all():
        grouped[row._mapping[by]].append(row)
    return grouped


async def link_customers(session: RequestSession, scope: Scope, links: Table, owner: str,
                         owner_id: uuid.UUID, customer_ids: Iterable[uuid.UUID]) -> None:
    """Link a row (`owner` = `owner_id`: a grant's external user, an invitation) to each of
    these customers once, in the scope's organization; existing links stay as they are."""
    values = [{"organization_id": scope.organization_id, owner: owner_id, "customer_id": c}
              for c in sorted(set(customer_ids))]
    if values:
        await session.execute(pg_insert(links).values(values).on_conflict_do_nothing())


def next_updated_at(table: Table) -> Any:
    """The new `updated_at` of a changed row: now, and always later than the last one (two
    changes in one microsecond, or a clock stepped back, still move it), so a client holding
    the old value is told its copy is stale."""
    return func.greatest(func.clock_timestamp(),
                         table.c.updated_at + literal_column("interval '1 microsecond'"))


async def update_visible(session: RequestSession, scope: Scope, table: Table, row_id: Any,
                         values: dict[str, Any],
                         expected_updated_at: datetime | None = None) -> Row[Any] | None:
    """Change one visible row and move its `updated_at`; with `expected_updated_at`, only while
    the row still has that value (a concurrent change makes this answer None, after waiting
    for it to commit). None also when the row is not visible."""
    statement = (update(table).where(visible(scope, table), table.c.id == row_id)
                 .values(**values, updated_at=next_updated_at(table)).returning(*table.c))
    if expected_updated_at is not None:
        statement = statement.where(table.c.updated_at == expected_updated_at)
    return (await session.execute(statement)).first()


async def lock_visible(session: RequestSession, scope: Scope, table: Table,
                       row_id: Any) -> Row[Any] | None:
    """A visible row, locked until the transaction ends: what a change starts from."""
    if row_id is None:
        return None
    return (await session.execute(
        scoped(scope, table).where(table.c.id == row_id).with_for_update())).first()
