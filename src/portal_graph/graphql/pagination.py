"""GraphQL side of paging: arguments checked once, pages turned into connections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from graphql import GraphQLError
from sqlalchemy import Select
from sqlalchemy.engine import Row

from portal_graph.db import pagination
from portal_graph.db.pagination import BadCursor, Ordering, Page, PageRequest
from portal_graph.graphql.context import Info
from portal_graph.graphql.loaders import CountByParentLoader, PageByParentLoader
from portal_graph.graphql.relay import Connection, Edge, PageInfo

DEFAULT_FIRST = 20
MAX_FIRST = 100
N = TypeVar("N")


def page_request(first: int | None, after: str | None) -> PageRequest:
    first = DEFAULT_FIRST if first is None else first
    if not 0 <= first <= MAX_FIRST:
        raise GraphQLError(f"`first` must be between 0 and {MAX_FIRST}.",
                           extensions={"code": "FIRST_OUT_OF_RANGE"})
    if after is not None and len(after) > 500:
        raise GraphQLError("Invalid cursor.", extensions={"code": "BAD_USER_INPUT"})
    return PageRequest(first=first, after=after)


def to_connection(page: Page, make: Callable[[Row[Any]], N],
                  count: Callable[[], Awaitable[int]]) -> Connection[N]:
    edges = [Edge(cursor=c, node=make(row)) for row, c in zip(page.rows, page.cursors,
                                                               strict=True)]
    info = PageInfo(has_next_page=page.has_next, has_previous_page=page.has_previous,
                    start_cursor=page.cursors[0] if page.cursors else None,
                    end_cursor=page.cursors[-1] if page.cursors else None)
    return Connection(edges=edges, page_info=info, count=count)


def _bad_cursor() -> GraphQLError:
    return GraphQLError("Invalid cursor.", extensions={"code": "BAD_USER_INPUT"})


async def paginate(info: Info, statement: Select[Any], ordering: Ordering, first: int | None,
                   after: str | None, make: Callable[[Row[Any]], N]) -> Connection[N]:
    """A top-level connection: one statement for the page, one more only if totalCount is asked."""
    request = page_request(first, after)
    session = info.context.session
    try:
        page = await pagination.fetch_page(session, statement, ordering, request)
    except BadCursor:
        raise _bad_cursor() from None
    return to_connection(page, make, lambda: pagination.count(session, statement))


async def nested(info: Info, pages: type[PageByParentLoader], counts: type[CountByParentLoader],
                 parent_id: Hashable, first: int | None, after: str | None,
                 make: Callable[[Row[Any]], N], *filters: Hashable) -> Connection[N]:
    """A connection under a parent object, batched across all parents of the request."""
    request = page_request(first, after)
    loaders = info.context.loaders
    try:
        page = await loaders.get(pages, request.first, request.after, *filters).load(parent_id)
    except BadCursor:
        raise _bad_cursor() from None
    return to_connection(page, make, lambda: loaders.get(counts, *filters).load(parent_id))


def ordered(rows: Sequence[Row[Any] | None]) -> list[Row[Any]]:
    return [row for row in rows if row is not None]
