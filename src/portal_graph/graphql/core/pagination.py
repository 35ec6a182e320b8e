"""GraphQL side of paging: arguments checked once, pages turned into connections.

Connections under a parent object (a customer's jobs, a job's captures) are `NestedConnection`s,
batched across all parents of the request by their loaders. A top-level connection also looks
ahead: once its page is known it loads, level by level, the nested connections the query
selects below it, one batch per connection field (the very batches the resolvers would ask
for). Their resolvers then find their pages loaded and answer at once, without a coroutine: for
500 jobs, a coroutine, a task and an await chain per job and connection cost more than the SQL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLIncludeDirective,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
)
from graphql.execution.values import get_argument_values, get_directive_values
from sqlalchemy import Select
from sqlalchemy.engine import Row

from portal_graph.graphql.core.context import Context, Info
from portal_graph.graphql.core.loaders import CountByParentLoader, Loaders, PageByParentLoader
from portal_graph.graphql.core.relay import Connection, Edge, PageInfo
from portal_graph.scoped_sql import pagination, shapes
from portal_graph.scoped_sql.pagination import BadCursor, Ordering, Page, PageRequest

DEFAULT_FIRST = 20
N = TypeVar("N")


def page_request(first: int | None, after: str | None, max_first: int) -> PageRequest:
    """`max_first` is the request's own limit (QUERY_MAX_FIRST, `Context.max_first`), the
    one validation checked the document against."""
    first = DEFAULT_FIRST if first is None else first
    if not 0 <= first <= max_first:
        raise GraphQLError(f"`first` must be between 0 and {max_first}.",
                           extensions={"code": "FIRST_OUT_OF_RANGE"})
    if after is not None and len(after) > 500:
        raise GraphQLError("Invalid cursor.", extensions={"code": "BAD_USER_INPUT"})
    return PageRequest(first=first, after=after)


def to_connection(page: Page, make: Callable[[Row[Any]], N],
                  count: Callable[[], Awaitable[int]]) -> Connection[N]:
    # Cursors are encoded only when asked for (Edge.cursor, PageInfo's cursors).
    edges = [Edge(node=make(row), page=page, index=i) for i, row in enumerate(page.rows)]
    return Connection(edges=edges, page_info=PageInfo(page=page), count=count)


def _bad_cursor() -> GraphQLError:
    return GraphQLError("Invalid cursor.", extensions={"code": "BAD_USER_INPUT"})


@dataclass(frozen=True, slots=True)
class Listed:
    """A top-level list's page, and how to count all its rows (only if asked)."""

    page: Page
    count: Callable[[], Awaitable[int]]


async def listed(context: Context, statement: Select[Any], ordering: Ordering,
                 first: int | None, after: str | None) -> Listed:
    """A top-level page: one statement, one more for `count()`. Both execution paths use it
    (the Strawberry resolvers through `paginate`, the compiled plans directly)."""
    request = page_request(first, after, context.max_first)
    session = context.session
    try:
        page = await pagination.fetch_page(session, statement, ordering, request)
    except BadCursor:
        raise _bad_cursor() from None
    return Listed(page, lambda: pagination.count(session, statement))


async def paginate(info: Info, statement: Select[Any], ordering: Ordering, first: int | None,
                   after: str | None, make: Callable[[Row[Any]], N]) -> Connection[N]:
    """A top-level connection: one statement for the page, one more only if totalCount is asked,
    and one per nested connection selected below it (loaded ahead, see the module's doc)."""
    found = await listed(info.context, statement, ordering, first, after)
    return await _connection(info, found.page, make, found.count)


_LISTINGS = shapes.Shapes()


async def listed_kept(context: Context, shape: tuple[Hashable, ...],
                      build: Callable[[], Select[Any]], values: dict[str, Any],
                      ordering: Ordering, first: int | None, after: str | None) -> Listed:
    """`listed`, for a list whose statements are built once per `shape` (scoped_sql/shapes.py):
    `build()` makes its statement the first time, with this request's `values` as named
    parameters, which later requests give their own."""
    scope = context.scope
    listing = _LISTINGS.made(scope, (*shape, ordering),
                             lambda: pagination.keep_listing(build(), ordering))
    request = page_request(first, after, context.max_first)
    session = context.session
    try:
        page = await pagination.fetch_kept_page(session, listing, scope, request, values)
    except BadCursor:
        raise _bad_cursor() from None
    return Listed(page, lambda: pagination.count_kept(session, listing, scope, values))


async def paginate_kept(info: Info, shape: tuple[Hashable, ...], build: Callable[[], Select[Any]],
                        values: dict[str, Any], ordering: Ordering, first: int | None,
                        after: str | None, make: Callable[[Row[Any]], N]) -> Connection[N]:
    """`paginate` over `listed_kept`."""
    found = await listed_kept(info.context, shape, build, values, ordering, first, after)
    return await _connection(info, found.page, make, found.count)


async def connection_of(info: Info, found: Listed, make: Callable[[Row[Any]], N]) -> Connection[N]:
    """The connection of a listed page, for the Strawberry resolvers (with the look-ahead)."""
    return await _connection(info, found.page, make, found.count)


async def _connection(info: Info, page: Page, make: Callable[[Row[Any]], N],
                      count: Callable[[], Awaitable[int]]) -> Connection[N]:
    raw = info._raw_info
    await _load_ahead(info.context.loaders, info.context.max_first, raw,
                      get_named_type(raw.return_type), raw.field_nodes,
                      [row.id for row in page.rows])
    return to_connection(page, make, count)


@dataclass(frozen=True, slots=True)
class NestedConnection(Generic[N]):
    """A connection under a parent object, batched across all parents of the request."""

    pages: type[PageByParentLoader]
    counts: type[CountByParentLoader]
    make: Callable[[Row[Any]], N]
    # The field's arguments that filter the loaders, in order, each with the conversion
    # Strawberry gives the resolver's argument (the look-ahead reads raw argument values).
    filters: tuple[tuple[str, Callable[[Any], Hashable]], ...] = ()

    def resolve(self, info: Info, parent_id: Hashable, first: int | None, after: str | None,
                *filters: Hashable) -> Any:
        """The connection when its page is loaded (looked ahead), else an awaitable of it.

        A resolver returning this stays a plain function, so that a loaded page costs no
        coroutine; graphql-core awaits what is awaitable.
        """
        request = page_request(first, after, info.context.max_first)
        loaders = info.context.loaders
        loaded = loaders.get(self.pages, request.first, request.after, *filters).load(parent_id)

        def count() -> Awaitable[int]:
            return loaders.get(self.counts, *filters).load(parent_id)  # type: ignore[no-any-return]

        if loaded.done():
            return to_connection(self._page(loaded), self.make, count)
        return self._later(loaded, count)

    @staticmethod
    def _page(loaded: Any) -> Page:
        try:
            return loaded.result()  # type: ignore[no-any-return]
        except BadCursor:
            raise _bad_cursor() from None

    async def _later(self, loaded: Awaitable[Page],
                     count: Callable[[], Awaitable[int]]) -> Connection[N]:
        try:
            page = await loaded
        except BadCursor:
            raise _bad_cursor() from None
        return to_connection(page, self.make, count)


    def graphql_resolver(self) -> Callable[..., Any]:
        """The field's resolver for graphql-core itself: the same `resolve`, without
        Strawberry's per-call work (an Info object, argument conversion, the extension chain),
        which for 1,000 nested connections in a response costs more than the connections."""
        filters = self.filters

        def resolve_field(source: Any, info: Any, first: int | None = DEFAULT_FIRST,
                          after: str | None = None, **arguments: Any) -> Any:
            return self.resolve(info, source.db_id, first, after,
                                *(convert(arguments.get(name)) for name, convert in filters))

        return resolve_field


# (parent type, field) -> its nested connection, both as GraphQL names: what the look-ahead
# follows. Filled by `nested_connection` as the types are defined.
NESTED: dict[tuple[str, str], NestedConnection[Any]] = {}


def resolve_nested_directly(schema: GraphQLSchema) -> None:
    """Give graphql-core the nested connections' own resolvers. Only where Strawberry adds
    nothing: a field with extensions (permission classes) keeps Strawberry's resolver."""
    for (type_name, field_name), connection in NESTED.items():
        parent = schema.type_map.get(type_name)
        if not isinstance(parent, GraphQLObjectType) or field_name not in parent.fields:
            continue
        graphql_field = parent.fields[field_name]
        definition = (graphql_field.extensions or {}).get("strawberry-definition")
        if definition is not None and not definition.extensions:
            graphql_field.resolve = connection.graphql_resolver()


def nested_connection(parent: str, field: str, pages: type[PageByParentLoader],
                      counts: type[CountByParentLoader], make: Callable[[Row[Any]], N],
                      filters: tuple[tuple[str, Callable[[Any], Hashable]], ...] = (),
                      ) -> NestedConnection[N]:
    connection = NestedConnection(pages, counts, make, filters)
    NESTED[(parent, field)] = connection
    return connection


# --- the look-ahead ------------------------------------------------------------------------


async def _load_ahead(loaders: Loaders, max_first: int, raw: GraphQLResolveInfo,
                      connection: GraphQLNamedType, field_nodes: Sequence[FieldNode],
                      parent_ids: list[Any]) -> None:
    """Load the pages of the nested connections selected on the nodes of `connection`, for
    `parent_ids`, then theirs, level by level. Only a speed-up: whatever it does not load (an
    argument it cannot read, a failed batch) the resolvers load, and report, as before."""
    node_type = _node_type(connection)
    if node_type is None or not parent_ids or loaders.scope is None:
        return
    assert isinstance(connection, GraphQLObjectType)  # _node_type found its edges
    wanted: dict[int, tuple[PageByParentLoader, GraphQLNamedType, list[FieldNode]]] = {}
    for node in _fields(raw, _node_selections(raw, connection, field_nodes), node_type):
        nested = NESTED.get((node_type.name, node.name.value))
        if nested is None:
            continue
        definition = node_type.fields[node.name.value]
        try:
            args = get_argument_values(definition, node, raw.variable_values)
            request = page_request(args.get("first"), args.get("after"), max_first)
            filters = [convert(args.get(name)) for name, convert in nested.filters]
        except (GraphQLError, ValueError, TypeError):
            continue
        loader = loaders.get(nested.pages, request.first, request.after, *filters)
        entry = wanted.setdefault(id(loader), (loader, get_named_type(definition.type), []))
        entry[2].append(node)
    # Every batch is queued before the first is awaited, so each loader dispatches once.
    started = [(loader.load_many(parent_ids), child, nodes)
               for loader, child, nodes in wanted.values()]
    for pages, child, nodes in started:
        try:
            loaded: list[Page] = await pages
        except Exception:  # the resolver meets, and reports, the same failure
            continue
        await _load_ahead(loaders, max_first, raw, child, nodes,
                          [row.id for page in loaded for row in page.rows])


def _node_type(connection: GraphQLNamedType) -> GraphQLObjectType | None:
    if not isinstance(connection, GraphQLObjectType) or "edges" not in connection.fields:
        return None
    edge = get_named_type(connection.fields["edges"].type)
    if not isinstance(edge, GraphQLObjectType) or "node" not in edge.fields:
        return None
    node = get_named_type(edge.fields["node"].type)
    return node if isinstance(node, GraphQLObjectType) else None


def _node_selections(raw: GraphQLResolveInfo, connection: GraphQLObjectType,
                     field_nodes: Sequence[FieldNode]) -> list[SelectionSetNode]:
    """The selection sets applied to the nodes: `edges { node { ... } }` and `nodes { ... }`."""
    selections = []
    connection_sets = [n.selection_set for n in field_nodes if n.selection_set]
    for field in _fields(raw, connection_sets, connection):
        if field.selection_set is None:
            continue
        if field.name.value == "nodes":
            selections.append(field.selection_set)
        elif field.name.value == "edges":
            edge = get_named_type(connection.fields["edges"].type)
            selections.extend(node.selection_set for node in _fields(raw, [field.selection_set],
                                                                      edge)
                              if node.name.value == "node" and node.selection_set)
    return selections


def _fields(raw: GraphQLResolveInfo, selection_sets: Sequence[SelectionSetNode],
            parent: GraphQLNamedType) -> Iterator[FieldNode]:
    """The fields selected on `parent`, through fragments, as @skip and @include leave them."""
    for selection_set in selection_sets:
        for selection in selection_set.selections:
            if not _included(raw, selection):
                continue
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                if _applies(raw, selection.type_condition, parent):
                    yield from _fields(raw, [selection.selection_set], parent)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = raw.fragments.get(selection.name.value)
                if fragment is not None and _applies(raw, fragment.type_condition, parent):
                    yield from _fields(raw, [fragment.selection_set], parent)


def _included(raw: GraphQLResolveInfo, node: Any) -> bool:
    skip = get_directive_values(GraphQLSkipDirective, node, raw.variable_values)
    if skip and skip.get("if"):
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, raw.variable_values)
    return not (include and not include.get("if"))


def _applies(raw: GraphQLResolveInfo, condition: Any, parent: GraphQLNamedType) -> bool:
    if condition is None or condition.name.value == parent.name:
        return True
    named = raw.schema.get_type(condition.name.value)
    return (named is not None and is_abstract_type(named)
            and isinstance(parent, GraphQLObjectType)
            and raw.schema.is_sub_type(named, parent))  # type: ignore[arg-type]
