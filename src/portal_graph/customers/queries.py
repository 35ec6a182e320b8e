"""Queries for customers."""

from __future__ import annotations

import strawberry

from portal_graph.customers import repository
from portal_graph.customers.loaders import CustomerByIdLoader
from portal_graph.customers.types import Customer
from portal_graph.graphql.core.audiences import SIGNED_IN, field
from portal_graph.graphql.core.context import Context, Info
from portal_graph.graphql.core.pagination import DEFAULT_FIRST, Listed, connection_of, listed_kept
from portal_graph.graphql.core.relay import Connection
from portal_graph.scoped_sql.pagination import BY_NAME


async def customer_page(context: Context, first: int | None, after: str | None,
                        search: str | None) -> Listed:
    """The page of `customers`, for both execution paths (the compiled plans call it too)."""
    needle = search.strip()[:200] if search else None
    return await listed_kept(
        context, ("customers", bool(needle)),
        lambda: repository.listing(context.scope, search=bool(needle)),
        repository.search_values(needle), BY_NAME, first, after)


@strawberry.type
class CustomerQueries:
    @field(audiences=SIGNED_IN, description="Customers you can see, by name.")
    async def customers(self, info: Info, first: int | None = DEFAULT_FIRST,
                        after: str | None = None,
                        search: str | None = None) -> Connection[Customer]:
        found = await customer_page(info.context, first, after, search)
        return await connection_of(info, found, Customer.from_row)

    @field(audiences=SIGNED_IN, description="A customer by id; null when not visible.")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        row = await info.context.loaders.by_global_id(CustomerByIdLoader, id, "Customer")
        return Customer.from_row(row) if row else None
