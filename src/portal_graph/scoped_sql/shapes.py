"""Statements built once per shape, run with each request's values.

A loader's statement changes from request to request only in its values (the organization,
the grants, the parent ids, the page size, a cursor) and in a few switches (a staff or an
external scope, a status filter, a cursor or none): the switches are its shape. Building a
SQLAlchemy statement and its cache key costs more than the SQL of a small request, so each
shape is built once and kept (SQLAlchemy memoises a statement's cache key on the statement, so
a kept one goes straight to its compiled form).

The values are named parameters (`bindparam("parent_ids")`, the scope's in scope.py), and a
kept statement holds none of them: it cannot run without the request's own, so a shape first
built for one viewer never runs with that viewer's organization or grants for another.
Anonymous parameters (`status == 'COMPLETED'`) are part of the shape.

A shape's text never depends on how many ids it is given: a list is ONE array parameter
(`= ANY($1::UUID[])`), so PostgreSQL prepares a shape once per connection and, when it moves to
a generic plan after five runs, that plan is the custom one's equal (tests/performance).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Text, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Result
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.visitors import cloned_traverse

from portal_graph.db.session import RequestSession
from portal_graph.scope import Scope, parameters

E = TypeVar("E", bound=Executable)
K = TypeVar("K")


def one_of(column: ColumnElement[Any] | QueryableAttribute[Any],
           name: str) -> ColumnElement[bool]:
    """`column = ANY(:name)`: a list bound as ONE array parameter of the column's type."""
    return column == any_(bindparam(name, type_=ARRAY(column.type)))


def without_values(statement: E) -> E:
    """A copy of `statement` whose named parameters hold no value: each must be given when it
    runs, or SQLAlchemy refuses to run it."""

    def forget(bind: BindParameter[Any]) -> None:
        if not bind.unique:  # named by us; anonymous ones are part of the shape
            bind.value = None
            bind.callable = None
            bind.required = True

    return cloned_traverse(statement, {"maintain_key": True,  # type: ignore[call-overload, no-any-return]
                                       "detect_subquery_cols": True}, {"bindparam": forget})


class Shapes:
    """Statements kept per (scope.external, *switches), each without values."""

    def __init__(self) -> None:
        self._made: dict[tuple[Hashable, ...], Any] = {}

    def get(self, scope: Scope, switches: tuple[Any, ...], build: Callable[[], E]) -> E:
        """The kept statement of this shape; `build()` makes it the first time."""
        return self.made(scope, switches, lambda: without_values(build()))

    def made(self, scope: Scope, switches: tuple[Any, ...], make: Callable[[], K]) -> K:
        """What `make()` returns the first time for this shape: statements it built without
        values (pagination.keep_listing)."""
        key = (scope.external, *switches)
        found = self._made.get(key)
        if found is None:
            found = self._made[key] = make()
        return found  # type: ignore[no-any-return]


async def execute(session: RequestSession, statement: Executable, scope: Scope,
                  **values: Any) -> Result[Any]:
    """Run a kept statement with the scope's values and `values` (its other parameters)."""
    return await session.execute(statement, {**parameters(scope), **values})  # type: ignore[no-any-return]


def like_pattern(needle: str) -> str:
    """`%needle%` for `LIKE ... ESCAPE '/'` (see `contains`): its own wildcards match
    themselves."""
    escaped = needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def contains(column: ColumnElement[str], name: str) -> ColumnElement[bool]:
    """`column LIKE :name ESCAPE '/'`, the pattern a named parameter given as `like_pattern`."""
    return column.like(bindparam(name, type_=Text()), escape="/")
