"""Staff data entry for customers: create, correct, archive."""

from __future__ import annotations

from datetime import datetime

import strawberry

from portal_graph.capabilities import ARCHIVE_CUSTOMERS, EDIT_WORK
from portal_graph.customers import service
from portal_graph.customers.types import Customer
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.payloads import given, mutation, payload
from portal_graph.graphql.core.relay import parse_id


def expected_version() -> datetime | None:
    """An update's `expectedUpdatedAt` input field (optimistic concurrency), for customers and
    the work alike."""
    return strawberry.field(default=None, description=(
        "The `updatedAt` you read. When the object has changed since, nothing is written and "
        "the answer is STALE_OBJECT. Omit it to overwrite whatever is there."))


@strawberry.input
class CreateCustomerInput:
    name: str


@payload
class CreateCustomerPayload:
    customer: Customer | None = None


@strawberry.input
class UpdateCustomerInput:
    customer_id: strawberry.ID
    name: str | None = strawberry.UNSET
    expected_updated_at: datetime | None = expected_version()


@payload
class UpdateCustomerPayload:
    customer: Customer | None = None


@strawberry.input
class ArchiveCustomerInput:
    customer_id: strawberry.ID
    expected_updated_at: datetime | None = expected_version()


@payload
class ArchiveCustomerPayload:
    customer: Customer | None = None


@strawberry.type
class CustomerMutations:
    @mutation(payload=CreateCustomerPayload,
              rule=EDIT_WORK, description="Add a customer (company).")
    async def create_customer(self, info: Info,
                              input: CreateCustomerInput) -> CreateCustomerPayload:
        ctx = info.context
        row = await service.create_customer(ctx.session, ctx.scope, name=input.name)
        return CreateCustomerPayload(customer=Customer.from_row(row))

    @mutation(payload=UpdateCustomerPayload,
              rule=EDIT_WORK, description="Correct a customer; omitted fields stay as they are.")
    async def update_customer(self, info: Info,
                              input: UpdateCustomerInput) -> UpdateCustomerPayload:
        row = await info.context.act(
            service.update_customer, customer_id=parse_id(input.customer_id, "Customer"),
            changes=given(input, "name"), expected_updated_at=input.expected_updated_at)
        return UpdateCustomerPayload(customer=Customer.from_row(row))

    @mutation(payload=ArchiveCustomerPayload, rule=ARCHIVE_CUSTOMERS, description=(
        "Archive a customer: it disappears from every external user's portal, with its jobs, "
        "captures and assets, and cannot be invited to; staff keep it and its history."))
    async def archive_customer(self, info: Info,
                               input: ArchiveCustomerInput) -> ArchiveCustomerPayload:
        row = await info.context.act(
            service.archive_customer, customer_id=parse_id(input.customer_id, "Customer"),
            expected_updated_at=input.expected_updated_at)
        return ArchiveCustomerPayload(customer=Customer.from_row(row))
