"""GraphQL side of the change feed: `changes(after:, first:)`, a connection of changes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from sqlalchemy.engine import Row

from portal_graph.customers.loaders import CustomerByIdLoader
from portal_graph.customers.types import Customer
from portal_graph.feed import repository
from portal_graph.graphql.core.audiences import SIGNED_IN, audience, field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.loaders import ScopedLoader
from portal_graph.graphql.core.pagination import DEFAULT_FIRST, page_request
from portal_graph.graphql.core.relay import Node, to_global_id
from portal_graph.work import loaders as work_loaders
from portal_graph.work.types import Asset, Job, MapCapture

NODES: dict[str, tuple[type[ScopedLoader], Callable[[Row[Any]], Any]]] = {
    "Customer": (CustomerByIdLoader, Customer.from_row),
    "Job": (work_loaders.JobByIdLoader, Job.from_row),
    "MapCapture": (work_loaders.MapCaptureByIdLoader, MapCapture.from_row),
    "Asset": (work_loaders.AssetByIdLoader, Asset.from_row),
}


@audience(SIGNED_IN)
@strawberry.type(description=(
    "One object that changed in your view: it is new to you or was changed (`removed` false; "
    "fetch `node`), or it left your view (`removed` true: deleted, no longer visible to you). "
    "Apply changes in order; only the latest state of each object is listed."))
class Change:
    entity: strawberry.Private[str]
    row_id: strawberry.Private[uuid.UUID]
    removed: bool = strawberry.field(description=(
        "The object left your view: forget it. Told only of objects you could see."))

    @strawberry.field(description="The global id of the object that changed.")
    def node_id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id(self.entity, self.row_id))

    @strawberry.field(description="The object as it is now; null when removed (or when it "
                                  "left your view since this page was read).")
    async def node(self, info: Info) -> Node | None:
        if self.removed:
            return None
        loader, make = NODES[self.entity]
        row = await info.context.loaders.get(loader).load(self.row_id)
        return make(row) if row is not None else None


@audience(SIGNED_IN)
@strawberry.type
class ChangeEdge:
    cursor: str = strawberry.field(description="Store it: the feed continues after it.")
    node: Change


@audience(SIGNED_IN)
@strawberry.type
class ChangePageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description=(
        "The cursor after this page; the one you gave when the page is empty."))


@audience(SIGNED_IN)
@strawberry.type
class ChangeConnection:
    edges: list[ChangeEdge]
    page_info: ChangePageInfo

    @strawberry.field(description="The changes of this page, without their cursors.")
    def nodes(self) -> list[Change]:
        return [edge.node for edge in self.edges]


@strawberry.type
class FeedQueries:
    @field(audiences=SIGNED_IN, description=(
        "The change feed: customers, jobs, map captures and assets that became visible to "
        "you, changed, or left your view, in the order they changed, after the cursor you "
        "stored (from the beginning without one). Paging to the end from the beginning and "
        "applying every change gives exactly what you can see now."))
    async def changes(self, info: Info, after: str | None = None,
                      first: int | None = DEFAULT_FIRST) -> ChangeConnection:
        request = page_request(first, after, info.context.max_first)
        try:
            cursor = repository.decode(after)
        except repository.BadFeedCursor:
            raise GraphQLError("Invalid cursor.", extensions={"code": "BAD_USER_INPUT"}) from None
        rows = await repository.changes_after(info.context.session, info.context.scope,
                                              cursor, request.first + 1)
        page = rows[:request.first]
        edges = [ChangeEdge(cursor=repository.encode(row.position, row.entity, row.row_id),
                            node=Change(entity=row.entity, row_id=row.row_id,
                                        removed=not row.present))
                 for row in page]
        end = edges[-1].cursor if edges else after
        return ChangeConnection(edges=edges, page_info=ChangePageInfo(
            has_next_page=len(rows) > request.first, end_cursor=end))
