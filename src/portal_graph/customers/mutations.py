"""Staff data entry for customers."""

from __future__ import annotations

import strawberry

from portal_graph.customers import service
from portal_graph.customers.types import Customer
from portal_graph.graphql.core.audiences import STAFF, mutation
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.payloads import UserError, payload, run_mutation


@strawberry.input
class CreateCustomerInput:
    name: str


@payload
class CreateCustomerPayload:
    customer: Customer | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CustomerMutations:
    @mutation(audiences=STAFF, description="Add a customer (company).")
    async def create_customer(self, info: Info,
                              input: CreateCustomerInput) -> CreateCustomerPayload:
        ctx = info.context

        async def act() -> CreateCustomerPayload:
            row = await service.create_customer(ctx.session, ctx.scope, name=input.name)
            return CreateCustomerPayload(customer=Customer.from_row(row))

        return await run_mutation(info, CreateCustomerPayload, act)
