"""The one loader factory: per-request DataLoaders, each filtered by the viewer's scope.

Loaders are named `<Entity>By<Key>Loader` and built lazily, once per request and arguments, so
that a request pays only for the loaders it uses and batching never widens what a viewer sees:
every batch statement starts from `scope.scoped(...)`. Their statements are built once per
shape and process (scoped_sql/shapes.py), not once per request.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import Select, Table
from sqlalchemy.engine import Row

from portal_graph.db.session import RequestSession
from portal_graph.scope import Scope
from portal_graph.scoped_sql import pagination, shapes
from portal_graph.scoped_sql.pagination import Ordering, Page, PageRequest
from portal_graph.scoped_sql.rows import visible_by_ids

L = TypeVar("L", bound="ScopedLoader")
_SHAPES = shapes.Shapes()


class ScopedLoader(DataLoader):  # type: ignore[misc]
    def __init__(self, session: RequestSession, scope: Scope, *args: Hashable) -> None:
        super().__init__()
        self.session = session
        self.scope = scope
        self.args = args


class RowByIdLoader(ScopedLoader):
    """Visible rows of `table` by id, in key order, None where missing or out of scope."""

    table: ClassVar[Table]

    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[Row[Any] | None]:
        found = await visible_by_ids(self.session, self.scope, self.table, keys)
        return [found.get(key) for key in keys]


class PageByParentLoader(ScopedLoader):
    """One page per parent for `args = (first, after, *filters)`, batched in one statement."""

    ordering: ClassVar[Ordering] = pagination.NEWEST_FIRST
    parent: ClassVar[str]

    def statement(self) -> Select[Any]:
        """The scoped rows, with a column named `parent`; filters come from self.args[2:]."""
        raise NotImplementedError

    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[Page]:
        first, after = self.args[0], self.args[1]
        shape = _SHAPES.get(self.scope, (type(self), "pages", after is not None, *self.args[2:]),
                            lambda: pagination.pages_by_parent(
                                self.statement(), self.parent, self.ordering,
                                after=after is not None))
        pages = await pagination.fetch_pages_by_parent(
            self.session, shape, self.scope, self.parent, keys, self.ordering,
            PageRequest(first=first, after=after))  # type: ignore[arg-type]
        return [pages[key] for key in keys]


class CountByParentLoader(ScopedLoader):
    """How many rows each parent has, for `totalCount` of nested connections."""

    pages: ClassVar[type[PageByParentLoader]]

    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[int]:
        pages = self.pages
        shape = _SHAPES.get(self.scope, (pages, "counts", *self.args),
                            lambda: pagination.counts_by_parent(
                                pages(self.session, self.scope, 0, None, *self.args).statement(),
                                pages.parent))
        counts = await pagination.count_by_parent(self.session, shape, self.scope, keys)
        return [counts[key] for key in keys]


class Loaders:
    def __init__(self, session: RequestSession, scope: Scope | None) -> None:
        self.session = session
        self.scope = scope
        self._made: dict[tuple[Any, ...], ScopedLoader] = {}

    def get(self, kind: type[L], *args: Hashable) -> L:
        key = (kind, *args)
        loader = self._made.get(key)
        if loader is None:
            if self.scope is None:
                raise PermissionError("tenant data needs a signed-in viewer")
            loader = self._made[key] = kind(self.session, self.scope, *args)
        return loader  # type: ignore[return-value]
