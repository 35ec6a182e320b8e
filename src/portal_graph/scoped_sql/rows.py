"""Reading rows by id through the viewer's scope: the one way, for services and loaders."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy import Select, Table
from sqlalchemy.engine import Row

from portal_graph.db.session import RequestSession
from portal_graph.scope import Scope, scoped
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
