"""Reading rows by id through the viewer's scope, and changing one row as it was read: the one
way, for services and loaders."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, func, literal_column, update
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
