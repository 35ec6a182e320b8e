"""Queries for customers."""

from __future__ import annotations

import strawberry

from portal_graph.customers import repository
from portal_graph.customers.loaders import CustomerByIdLoader
from portal_graph.customers.types import Customer
from portal_graph.db.pagination import BY_NAME
from portal_graph.graphql.audiences import SIGNED_IN, field
from portal_graph.graphql.context import Info
from portal_graph.graphql.pagination import DEFAULT_FIRST, paginate
from portal_graph.graphql.relay import Connection, parse_id


@strawberry.type
class CustomerQueries:
    @field(audiences=SIGNED_IN, description="Customers you can see, by name.")
    async def customers(self, info: Info, first: int | None = DEFAULT_FIRST,
                        after: str | None = None,
                        search: str | None = None) -> Connection[Customer]:
        statement = repository.listing(info.context.scope, search.strip()[:200] if search else None)
        return await paginate(info, statement, BY_NAME, first, after, Customer.from_row)

    @field(audiences=SIGNED_IN, description="A customer by id; null when not visible.")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        customer_id = parse_id(id, "Customer")
        if customer_id is None:
            return None
        row = await info.context.loaders.get(CustomerByIdLoader).load(customer_id)
        return Customer.from_row(row) if row else None
