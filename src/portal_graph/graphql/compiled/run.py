"""Running a plan: the roots, then level by level the nested connections and references.

Per level, every batch is queued before any runs (batches.py), through the request's own
loaders: the same statements, the same scope filters, the same count as graphql-core. The rows
of a level become response objects by one generated loop per object plan (build.py). When the
plan cannot finish (`Refused`, any exception) the operation is run again on graphql-core,
which reports what it finds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from graphql import GraphQLField, GraphQLResolveInfo
from graphql.execution.values import VariableValues, get_argument_values
from graphql.language import FieldNode

from portal_graph.graphql.compiled import registry
from portal_graph.graphql.compiled.batches import Batches
from portal_graph.graphql.compiled.build import builder
from portal_graph.graphql.compiled.plan import (
    ConnectionPlan,
    Nested,
    ObjectPlan,
    Plan,
    Reference,
    RootEntry,
)
from portal_graph.graphql.compiled.scalars import Refused
from portal_graph.graphql.core.context import Context
from portal_graph.graphql.core.pagination import page_request
from portal_graph.scoped_sql.pagination import Page

Level = list[tuple[ObjectPlan, list[Any], list[dict[str, Any]]]]


class ReadsTheRow(Exception):
    """A permission class looked at the object: it must run per object, on graphql-core."""


class _NoRow:
    def __getattr__(self, name: str) -> Any:
        raise ReadsTheRow(name)


class Run:
    def __init__(self, plan: Plan, context: Context, variables: VariableValues) -> None:
        self.plan = plan
        self.context = context
        self.variables = variables
        self.allowed: dict[type[Any], bool] = {}
        self.batches = Batches()

    def arguments(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any]:
        return get_argument_values(definition, node, self.variables)

    def permit(self, plan: ObjectPlan) -> None:
        """The plan's permission classes, decided once from the viewer (never per row)."""
        for classes in plan.permissions:
            for cls in classes:
                allowed = self.allowed.get(cls)
                if allowed is None:
                    info = SimpleNamespace(context=self.context)
                    allowed = self.allowed[cls] = cls().has_permission(_NoRow(), info) is True
                if not allowed:
                    raise Refused(f"{cls.__name__} denies")  # graphql-core reports it

    async def data(self) -> dict[str, Any]:
        # Every root runs to its end before a failure is raised: nothing of the plan may still
        # use the session when graphql-core takes over.
        outcomes = await asyncio.gather(*(self._root(entry) for entry in self.plan.roots),
                                        return_exceptions=True)
        roots: list[tuple[Any, Level]] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            roots.append(outcome)
        data: dict[str, Any] = {}
        level: Level = []
        for entry, (value, found) in zip(self.plan.roots, roots, strict=True):
            data[entry.key] = value
            level.extend(found)
        while level:
            level = await self._level(level)
        return data

    async def _root(self, entry: RootEntry) -> tuple[Any, Level]:
        if entry.root is None:
            return self.plan.query_name, []
        assert entry.definition is not None and entry.node is not None
        args = self.arguments(entry.definition, entry.node)
        if entry.listed is not None:
            assert entry.root.list is not None
            listed = await entry.root.list(self.context, args)
            count = await listed.count() if entry.listed.counted else 0
            level: Level = []
            return self._connection(entry.listed, listed.page, count, level), level
        assert entry.root.one is not None
        found = await entry.root.one(self.context, args)
        if found is None:
            if entry.non_null:
                raise Refused(entry.key)
            return None, []
        type_name, row = found
        plan = entry.objects.get(type_name)
        if plan is None:
            raise Refused(f"{type_name} is not planned")
        self.permit(plan)
        rows = [row]
        outs = builder(plan, row._fields)(rows)
        return outs[0], [(plan, rows, outs)]

    def _connection(self, plan: ConnectionPlan, page: Page, count: int, level: Level,
                    nodes: dict[int, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
        """A connection's response for one page. Its nodes' objects are `nodes` (by plan, made
        for many pages at once by the caller) or made here; either way they join `level`."""
        rows = page.rows
        made: dict[str, Any] = {}
        for key, name, payload in plan.entries:
            if name == "edges" and len(payload) == 1 and payload[0][1] == "node":
                edge_key, _, sub = payload[0]  # the usual `edges { node { ... } }`
                objects = nodes[id(sub)] if nodes is not None else self._objects(sub, rows, level)
                made[key] = [{edge_key: o} for o in objects]
            elif name == "edges":
                columns: list[Any] = []
                for _, edge_name, sub in payload:
                    if edge_name == "node":
                        columns.append(nodes[id(sub)] if nodes is not None
                                       else self._objects(sub, rows, level))
                    elif edge_name == "cursor":
                        columns.append([page.cursor(i) for i in range(len(rows))])
                    else:
                        columns.append([sub] * len(rows))
                keys = [edge_key for edge_key, _, _ in payload]
                made[key] = ([dict(zip(keys, values, strict=True))
                              for values in zip(*columns, strict=True)] if columns
                             else [{} for _ in rows])
            elif name == "nodes":
                made[key] = (nodes[id(payload)] if nodes is not None
                             else self._objects(payload, rows, level))
            elif name == "pageInfo":
                made[key] = {info_key: _page_info(page, info_name, type_name)
                             for info_key, info_name, type_name in payload}
            elif name == "totalCount":
                made[key] = count
            else:
                made[key] = payload  # __typename
        return made

    def _objects(self, plan: ObjectPlan, rows: list[Any], level: Level) -> list[dict[str, Any]]:
        if not rows:
            return []
        self.permit(plan)
        outs = builder(plan, rows[0]._fields)(rows)
        level.append((plan, rows, outs))
        return outs

    async def _level(self, level: Level) -> Level:
        """Load what the objects of this level select below them (every batch queued before
        any runs: one statement per loader); return the next level."""
        loaders = self.context.loaders
        finishing: list[Callable[[], Level]] = []
        for plan, rows, outs in level:
            fields = rows[0]._fields
            for entry in plan.entries:
                if isinstance(entry, Nested):
                    finishing.append(self._nested(entry, rows, outs, fields))
                elif isinstance(entry, Reference):
                    column = fields.index(entry.reference.attribute)
                    keys = [row[column] for row in rows]
                    read = self.batches.want(loaders.get(entry.reference.loader),
                                             [key for key in keys if key is not None])
                    finishing.append(self._referenced(entry, keys, read, outs))
        await self.batches.load()
        following: Level = []
        for finish in finishing:
            following.extend(finish())
        return following

    def _nested(self, entry: Nested, rows: list[Any], outs: list[dict[str, Any]],
                fields: tuple[str, ...]) -> Callable[[], Level]:
        loaders = self.context.loaders
        args = self.arguments(entry.definition, entry.node)
        request = page_request(args.get("first"), args.get("after"), self.context.max_first)
        filters = registry.filters_of(entry.connection, args)
        id_column = fields.index("id")
        ids = [row[id_column] for row in rows]
        pages = self.batches.want(loaders.get(entry.connection.pages, request.first,
                                              request.after, *filters), ids)
        counts = (self.batches.want(loaders.get(entry.connection.counts, *filters), ids)
                  if entry.plan.counted else None)

        def finish() -> Level:
            loaded: list[Page] = pages()
            counted = counts() if counts is not None else [0] * len(ids)
            level: Level = []
            # One generated loop per node plan over the rows of all the level's pages.
            every = [row for page in loaded for row in page.rows]
            made = {id(sub): self._objects(sub, every, level)
                    for sub in entry.plan.node_plans()}
            start = 0
            for out, page, count in zip(outs, loaded, counted, strict=True):
                end = start + len(page.rows)
                nodes = {key: objects[start:end] for key, objects in made.items()}
                out[entry.key] = self._connection(entry.plan, page, count, level, nodes)
                start = end
            return level

        return finish

    def _referenced(self, entry: Reference, keys: list[Any], read: Callable[[], list[Any]],
                    outs: list[dict[str, Any]]) -> Callable[[], Level]:
        def finish() -> Level:
            loaded = iter(read())
            rows = [None if key is None else next(loaded) for key in keys]
            present = [row for row in rows if row is not None]
            if entry.non_null and len(present) < len(rows):
                raise Refused(entry.key)
            level: Level = []
            made = iter(self._objects(entry.plan, present, level))
            for out, row in zip(outs, rows, strict=True):
                out[entry.key] = None if row is None else next(made)
            return level

        return finish


def _page_info(page: Page, name: str, type_name: str) -> Any:
    if name == "hasNextPage":
        return page.has_next
    if name == "hasPreviousPage":
        return page.has_previous
    if name == "startCursor":
        return page.cursor(0) if page.rows else None
    if name == "endCursor":
        return page.cursor(len(page.rows) - 1) if page.rows else None
    return type_name  # __typename


__all__ = ["GraphQLResolveInfo", "Run"]
