"""The one loader factory: per-request DataLoaders, each filtered by the viewer's scope.

Loaders are named `<Entity>By<Key>Loader`, declared by what they read (one line where that
is all: `JobByIdLoader = RowByIdLoader.of(tables.jobs)`), and built lazily, once per request
and arguments, so that a request pays only for the loaders it uses and batching never widens
what a viewer sees: every batch statement starts from `scope.scoped(...)`. Their statements
are built once per shape and process (scoped_sql/shapes.py), not once per request.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar, cast

from aiodataloader import DataLoader
from sqlalchemy import Select, Table
from sqlalchemy.engine import Row

from portal_graph.db.session import RequestSession
from portal_graph.graphql.core.relay import parse_id
from portal_graph.scope import Scope
from portal_graph.scoped_sql import pagination, shapes
from portal_graph.scoped_sql.pagination import Ordering, Page, PageRequest
from portal_graph.scoped_sql.rows import visible_by_ids

L = TypeVar("L", bound="ScopedLoader")
_SHAPES = shapes.Shapes()


def _declare(base: type[L], what: str, **attributes: Any) -> type[L]:
    """A subclass of `base` with these class attributes: a loader declared by what it reads."""
    return cast(type[L], type(f"{base.__name__}[{what}]", (base,), attributes))


class ScopedLoader(DataLoader):
    def __init__(self, session: RequestSession, scope: Scope, *args: Hashable) -> None:
        super().__init__()
        self.session = session
        self.scope = scope
        self.args = args

    def load(self, key: Hashable) -> Any:
        """The key's future, shielded while it is pending: many fields await the one cached
        future of a key, and graphql-core cancels the fields below a parent that a non-null
        error nulls; unshielded, that cancelled the shared future under a field elsewhere in
        the response, which then failed the whole request (CancelledError)."""
        future = super().load(key)
        return future if future.done() else asyncio.shield(future)


class RowByIdLoader(ScopedLoader):
    """Visible rows of `table` by id, in key order, None where missing or out of scope."""

    table: ClassVar[Table]

    @classmethod
    def of(cls, table: Table) -> type[RowByIdLoader]:
        return _declare(cls, table.name, table=table)

    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[Row[Any] | None]:
        found = await visible_by_ids(self.session, self.scope, self.table, keys)
        return [found.get(key) for key in keys]


Ids = Sequence[uuid.UUID]
RowsById = Callable[[RequestSession, Scope, Ids], Awaitable[Mapping[uuid.UUID, Row[Any]]]]
RowsByParent = Callable[[RequestSession, Scope, Ids],
                        Awaitable[Mapping[uuid.UUID, list[Row[Any]]]]]


class ListingByIdLoader(ScopedLoader):
    """Rows by id from a repository function (`ListingByIdLoader.of(repo.by_ids)`), which
    filters by the scope: in key order, None where missing or out of scope."""

    fetch: ClassVar[RowsById]

    @classmethod
    def of(cls, fetch: RowsById) -> type[ListingByIdLoader]:
        return _declare(cls, fetch.__qualname__, fetch=fetch)

    async def batch_load_fn(self, keys: Ids) -> list[Row[Any] | None]:
        found = await type(self).fetch(self.session, self.scope, keys)
        return [found.get(key) for key in keys]


class GroupedByParentLoader(ScopedLoader):
    """Each parent's rows from a repository function (`GroupedByParentLoader.of(repo.by_x)`)
    that returns a list for every parent asked for, empty where it has none."""

    fetch: ClassVar[RowsByParent]

    @classmethod
    def of(cls, fetch: RowsByParent) -> type[GroupedByParentLoader]:
        return _declare(cls, fetch.__qualname__, fetch=fetch)

    async def batch_load_fn(self, keys: Ids) -> list[list[Row[Any]]]:
        grouped = await type(self).fetch(self.session, self.scope, keys)
        return [grouped[key] for key in keys]


class PageByParentLoader(ScopedLoader):
    """One page per parent for `args = (first, after, *filters)`, batched in one statement."""

    ordering: ClassVar[Ordering] = pagination.NEWEST_FIRST
    parent: ClassVar[str]
    # The repository's listing of the scoped rows, with a column named `parent` (or override
    # `statement`, for one filtered by self.args[2:]).
    listing: ClassVar[Callable[[Scope], Select[Any]]]

    @classmethod
    def of(cls, parent: str, listing: Callable[[Scope], Select[Any]]) -> type[PageByParentLoader]:
        return _declare(cls, f"{listing.__qualname__}, {parent}", parent=parent, listing=listing)

    def statement(self) -> Select[Any]:
        return type(self).listing(self.scope)

    def switches(self) -> tuple[Hashable, ...]:
        """What of the filters shapes the statement (db/shapes.py): by default all of them;
        a filter given as named parameters (`values`) only by whether it is there."""
        return tuple(self.args[2:])

    def values(self) -> dict[str, Any]:
        """The values of the statement's own named parameters (a filter's), if any."""
        return {}

    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[Page]:
        first, after = self.args[0], self.args[1]
        assert isinstance(first, int) and (after is None or isinstance(after, str))
        shape = _SHAPES.get(self.scope, (type(self), "pages", after is not None,
                                         *self.switches()),
                            lambda: pagination.pages_by_parent(
                                self.statement(), self.parent, self.ordering,
                                after=after is not None))
        pages = await pagination.fetch_pages_by_parent(
            self.session, shape, self.scope, self.parent, keys, self.ordering,
            PageRequest(first=first, after=after), self.values())
        return [pages[key] for key in keys]


class CountByParentLoader(ScopedLoader):
    """How many rows each parent has, for `totalCount` of nested connections."""

    pages: ClassVar[type[PageByParentLoader]]

    @classmethod
    def of(cls, pages: type[PageByParentLoader]) -> type[CountByParentLoader]:
        return _declare(cls, pages.__name__, pages=pages)

    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[int]:
        pages = self.pages(self.session, self.scope, 0, None, *self.args)
        shape = _SHAPES.get(self.scope, (self.pages, "counts", *pages.switches()),
                            lambda: pagination.counts_by_parent(pages.statement(),
                                                                self.pages.parent))
        counts = await pagination.count_by_parent(self.session, shape, self.scope, keys,
                                                  pages.values())
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
        return cast(L, loader)

    async def by_global_id(self, kind: type[RowByIdLoader] | type[ListingByIdLoader],
                           global_id: str, type_name: str) -> Row[Any] | None:
        """The visible row of a global id of `type_name`, through the loader of that type;
        None, as for a missing row, when the id is not one of that type."""
        id_ = parse_id(global_id, type_name)
        return None if id_ is None else await self.get(kind).load(id_)
