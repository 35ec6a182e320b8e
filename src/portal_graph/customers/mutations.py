"""Staff data entry for customers."""

from __future__ import annotations

import strawberry

from portal_graph.customers import service
from portal_graph.customers.types import Customer
from portal_graph.graphql.core.audiences import STAFF
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.payloads import mutation, payload


@strawberry.input
class CreateCustomerInput:
    name: str


@payload
class CreateCustomerPayload:
    customer: Customer | None = None


@strawberry.type
class CustomerMutations:
    @mutation(payload=CreateCustomerPayload,
              audiences=STAFF, description="Add a customer (company).")
    async def create_customer(self, info: Info,
                              input: CreateCustomerInput) -> CreateCustomerPayload:
        ctx = info.context
        row = await service.create_customer(ctx.session, ctx.scope, name=input.name)
        return CreateCustomerPayload(customer=Customer.from_row(row))
