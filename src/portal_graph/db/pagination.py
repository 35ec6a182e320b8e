"""Keyset pagination, the one way lists are paged: WHERE (keys) > (cursor) ORDER BY keys LIMIT n+1.

The last page costs what the first does (an index range scan, no OFFSET). Pages nested under a
list of parents (the first 5 jobs of each of 50 customers) come from ONE statement that numbers
rows per parent with a window function.
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
from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.engine import Row

from portal_graph.db.session import RequestSession


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
           cursor: str) -> ColumnElement[bool]:
    values = decode_cursor(cursor, columns)
    left, right = tuple_(*columns), tuple_(*values)
    return left < right if ordering.descending else left > right


def _order_by(columns: list[ColumnElement[Any]], ordering: Ordering) -> list[Any]:
    return [c.desc() for c in columns] if ordering.descending else list(columns)


def _cursor_of(row: Row[Any], ordering: Ordering) -> str:
    mapping = row._mapping
    return encode_cursor([mapping[key] for key in ordering.keys])


async def fetch_page(session: RequestSession, statement: Select[Any], ordering: Ordering,
                     request: PageRequest) -> Page:
    columns = _key_columns(statement, ordering)
    if request.after:
        statement = statement.where(_after(columns, ordering, request.after))
    statement = statement.order_by(*_order_by(columns, ordering)).limit(request.first + 1)
    rows = list((await session.execute(statement)).all())
    has_next = len(rows) > request.first
    rows = rows[: request.first]
    return Page(rows, has_next, bool(request.after), ordering)


async def fetch_pages_by_parent(
    session: RequestSession, statement: Select[Any], parent: str, parent_ids: Sequence[Hashable],
    ordering: Ordering, request: PageRequest,
) -> dict[Hashable, Page]:
    """One page per parent, in one statement. `statement` selects a column named `parent`."""
    columns = _key_columns(statement, ordering)
    parent_column = statement.selected_columns[parent]
    statement = statement.where(parent_column.in_(list(parent_ids)))
    if request.after:
        statement = statement.where(_after(columns, ordering, request.after))
    numbered = statement.add_columns(
        func.row_number().over(partition_by=parent_column,
                               order_by=_order_by(columns, ordering)).label("_position")
    ).subquery()
    outer = (select(numbered).where(numbered.c._position <= request.first + 1)
             .order_by(numbered.c[parent], numbered.c._position))
    grouped: dict[Hashable, list[Row[Any]]] = {key: [] for key in parent_ids}
    for row in (await session.execute(outer)).all():
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


async def count_by_parent(session: RequestSession, statement: Select[Any], parent: str,
                          parent_ids: Sequence[Hashable]) -> dict[Hashable, int]:
    inner = statement.where(statement.selected_columns[parent].in_(list(parent_ids))).subquery()
    rows = (await session.execute(
        select(inner.c[parent], func.count()).group_by(inner.c[parent]))).all()
    counts: dict[Hashable, int] = {key: 0 for key in parent_ids}
    counts.update({key: int(n) for key, n in rows})
    return counts
