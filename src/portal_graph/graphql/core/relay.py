"""Relay conventions: opaque global ids, the Node interface, cursor connections."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry

from portal_graph.graphql.core.audiences import SIGNED_IN, audience
from portal_graph.scoped_sql.pagination import Page

NodeType = TypeVar("NodeType")


def to_global_id(type_name: str, id_: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{id_}".encode()).decode().rstrip("=")


def from_global_id(global_id: str) -> tuple[str, uuid.UUID] | None:
    """(type name, uuid), or None for anything that is not one of our ids."""
    if not global_id or len(global_id) > 100:
        return None
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
        type_name, _, value = raw.partition(":")
        return type_name, uuid.UUID(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def parse_id(global_id: str | None, type_name: str) -> uuid.UUID | None:
    """The uuid of a global id of the given type; None when it is not one."""
    if global_id is None:
        return None
    parsed = from_global_id(global_id)
    if parsed is None or parsed[0] != type_name:
        return None
    return parsed[1]


@audience(SIGNED_IN)
@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    db_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Opaque global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id(self.__strawberry_definition__.name, self.db_id))  # type: ignore[attr-defined]


# Cursors are encoded from the page's rows only when a query asks for them.
@audience(SIGNED_IN)
@strawberry.type
class PageInfo:
    page: strawberry.Private[Page]

    @strawberry.field
    def has_next_page(self) -> bool:
        return self.page.has_next

    @strawberry.field
    def has_previous_page(self) -> bool:
        return self.page.has_previous

    @strawberry.field
    def start_cursor(self) -> str | None:
        return self.page.cursor(0) if self.page.rows else None

    @strawberry.field
    def end_cursor(self) -> str | None:
        return self.page.cursor(-1) if self.page.rows else None


def _edge_cursor(root: Edge[NodeType]) -> str:
    return root.page.cursor(root.index)


@audience(SIGNED_IN)
@strawberry.type(name="Edge")
class Edge(Generic[NodeType]):
    cursor: str = strawberry.field(resolver=_edge_cursor)
    node: NodeType
    page: strawberry.Private[Page]
    index: strawberry.Private[int]


@audience(SIGNED_IN)
@strawberry.type(name="Connection")
class Connection(Generic[NodeType]):
    edges: list[Edge[NodeType]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items match, over all pages.")
    async def total_count(self) -> int:
        return await self.count()

    @strawberry.field(description="The nodes of this page, without their cursors.")
    def nodes(self) -> list[NodeType]:
        return [edge.node for edge in self.edges]
