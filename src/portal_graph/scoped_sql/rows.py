"""Reading rows by id through the viewer's scope: the one way, for services and loaders."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
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
