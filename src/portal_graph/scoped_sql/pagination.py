"""Keyset pagination, the one way lists are paged: WHERE (keys) > (cursor) ORDER BY keys LIMIT n+1.

The last page costs what the first does (an index range scan, no OFFSET). Pages nested under a
list of parents (the first 5 jobs of each of 50 customers) come from ONE statement that numbers
rows per parent with a window function; it is built once per shape (scoped_sql/shapes.py) and takes
the parents as one array parameter.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Integer, Select, bindparam, func, select, tuple_
from sqlalchemy.engine import Row

from portal_graph.db.session import RequestSession
from portal_graph.scope import Scope
from portal_graph.scoped_sql import shapes

PARENT_IDS = "parent_ids"
PAGE_LIMIT = "page_limit"


@dataclass(frozen=True, slots=True)
class Ordering:
    """The sort keys of a list (the last one unique), all ascending or all descending."""

    keys: tuple[str, ...]
    descending: bool = False


NEWEST_FIRST = Ordering(("id",), descending=True)
BY_NAME = Ordering(("name", "id"))


@dataclass(frozen=True, slots=True)
class PageRequest:
    first: int
    after: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row[Any]]
    has_next: bool
    has_previous: bool
    ordering: Ordering

    def cursor(self, index: int) -> str:
        """The cursor after row `index`, encoded only when asked for: most queries never do."""
        return _cursor_of(self.rows[index], self.ordering)


class BadCursor(ValueError):
    pass


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]
    return base64.urlsafe_b64encode(orjson.dumps(plain)).decode().rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[ColumnElement[Any]]) -> list[Any]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise BadCursor(cursor)
        return [_typed(value, column) for value, column in zip(raw, columns, strict=True)]
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError) as error:
        raise BadCursor(cursor) from error


def _typed(value: Any, column: ColumnElement[Any]) -> Any:
    python_type = column.type.python_type
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if not isinstance(value, str):
        raise BadCursor(str(value))
    return python_type(value)


def _key_columns(statement: Select[Any], ordering: Ordering) -> list[ColumnElement[Any]]:
    columns = statement.selected_columns
    return [columns[key] for key in ordering.keys]


def _after(columns: list[ColumnElement[Any]], ordering: Ordering,
           values: Sequence[Any]) -> ColumnElement[bool]:
    left, right = tuple_(*columns), tuple_(*values)
    return left < right if ordering.descending else left > right


def _after_names(count: int) -> list[str]:
    return [f"after_{i}" for i in range(count)]


def _order_by(columns: list[ColumnElement[Any]], ordering: Ordering) -> list[Any]:
    return [c.desc() for c in columns] if ordering.descending else list(columns)


def _cursor_of(row: Row[Any], ordering: Ordering) -> str:
    mapping = row._mapping
    return encode_cursor([mapping[key] for key in ordering.keys])


async def fetch_page(session: RequestSession, statement: Select[Any], ordering: Ordering,
                     request: PageRequest) -> Page:
    columns = _key_columns(statement, ordering)
    if request.after:
        statement = statement.where(_after(columns, ordering,
                                           decode_cursor(request.after, columns)))
    statement = statement.order_by(*_order_by(columns, ordering)).limit(request.first + 1)
    rows = list((await session.execute(statement)).all())
    has_next = len(rows) > request.first
    rows = rows[: request.first]
    return Page(rows, has_next, bool(request.after), ordering)


@dataclass(frozen=True, slots=True)
class KeptListing:
    """A top-level list's statements, built once per shape (see `keep_listing`)."""

    first_page: Select[Any]
    next_page: Select[Any]  # after a cursor (`after_0`, ...)
    count: Select[Any]
    ordering: Ordering


def keep_listing(statement: Select[Any], ordering: Ordering) -> KeptListing:
    """The pages and the count of `statement`, at most PAGE_LIMIT rows a page, without values
    (scoped_sql/shapes.py)."""
    columns = _key_columns(statement, ordering)

    def page(after: bool) -> Select[Any]:
        paged = statement
        if after:
            cursor = [bindparam(name, type_=column.type)
                      for name, column in zip(_after_names(len(columns)), columns, strict=True)]
            paged = paged.where(_after(columns, ordering, cursor))
        return (paged.order_by(*_order_by(columns, ordering))
                .limit(bindparam(PAGE_LIMIT, type_=Integer)))

    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    return KeptListing(shapes.without_values(page(after=False)),
                       shapes.without_values(page(after=True)),
                       shapes.without_values(counted), ordering)


async def fetch_kept_page(session: RequestSession, listing: KeptListing, scope: Scope,
                          request: PageRequest, values: dict[str, Any]) -> Page:
    """A page of a kept listing, run with the scope's and these values."""
    statement = listing.next_page if request.after else listing.first_page
    parameters = {**values, PAGE_LIMIT: request.first + 1}
    if request.after:
        columns = _key_columns(statement, listing.ordering)
        parameters.update(zip(_after_names(len(columns)), decode_cursor(request.after, columns),
                              strict=True))
    rows = list((await shapes.execute(session, statement, scope, **parameters)).all())
    has_next = len(rows) > request.first
    return Page(rows[: request.first], has_next, bool(request.after), listing.ordering)


async def count_kept(session: RequestSession, listing: KeptListing, scope: Scope,
                     values: dict[str, Any]) -> int:
    return int((await shapes.execute(session, listing.count, scope, **values)).scalar() or 0)


def pages_by_parent(statement: Select[Any], parent: str, ordering: Ordering, *,
                    after: bool) -> Select[Any]:
    """One page per parent in one statement, as a shape: the rows of `statement` (which selects
    a column named `parent`) of the parents PARENT_IDS, at most PAGE_LIMIT of each in
    `ordering`, after the cursor's values (`after_0`, ...) when `after`."""
    columns = _key_columns(statement, ordering)
    parent_column = statement.selected_columns[parent]
    statement = statement.where(shapes.one_of(parent_column, PARENT_IDS))
    if after:
        cursor = [bindparam(name, type_=column.type)
                  for name, column in zip(_after_names(len(columns)), columns, strict=True)]
        statement = statement.where(_after(columns, ordering, cursor))
    numbered = statement.add_columns(
        func.row_number().over(partition_by=parent_column,
                               order_by=_order_by(columns, ordering)).label("_position")
    ).subquery()
    return (select(numbered)
            .where(numbered.c._position <= bindparam(PAGE_LIMIT, type_=Integer))
            .order_by(numbered.c[parent], numbered.c._position))


async def fetch_pages_by_parent(
    session: RequestSession, statement: Select[Any], scope: Scope, parent: str,
    parent_ids: Sequence[Hashable], ordering: Ordering, request: PageRequest,
    filters: dict[str, Any] | None = None,
) -> dict[Hashable, Page]:
    """One page per parent: runs a `pages_by_parent` shape (`filters`: the values of its own
    named parameters)."""
    values: dict[str, Any] = {**(filters or {}), PARENT_IDS: list(parent_ids),
                              PAGE_LIMIT: request.first + 1}
    if request.after:
        columns = _key_columns(statement, ordering)
        decoded = decode_cursor(request.after, columns)
        values.update(zip(_after_names(len(columns)), decoded, strict=True))
    grouped: dict[Hashable, list[Row[Any]]] = {key: [] for key in parent_ids}
    for row in (await shapes.execute(session, statement, scope, **values)).all():
        grouped[row._mapping[parent]].append(row)
    pages = {}
    for key, rows in grouped.items():
        has_next = len(rows) > request.first
        rows = rows[: request.first]
        pages[key] = Page(rows, has_next, bool(request.after), ordering)
    return pages


async def count(session: RequestSession, statement: Select[Any]) -> int:
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    return int(await session.scalar(counted) or 0)


def counts_by_parent(statement: Select[Any], parent: str) -> Select[Any]:
    """How many rows of `statement` each of the parents PARENT_IDS has, as a shape."""
    inner = statement.where(shapes.one_of(statement.selected_columns[parent],
                                          PARENT_IDS)).subquery()
    return select(inner.c[parent], func.count()).group_by(inner.c[parent])


async def count_by_parent(session: RequestSession, statement: Select[Any], scope: Scope,
                          parent_ids: Sequence[Hashable],
                          filters: dict[str, Any] | None = None) -> dict[Hashable, int]:
    """Runs a `counts_by_parent` shape."""
    rows: Sequence[Any] = (await shapes.execute(
        session, statement, scope, **{**(filters or {}), PARENT_IDS: list(parent_ids)})).all()
    counts: dict[Hashable, int] = {key: 0 for key in parent_ids}
    counts.update({key: int(n) for key, n in rows})
    return counts
