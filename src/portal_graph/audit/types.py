"""GraphQL types of the audit log (admins only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.engine import Row

from portal_graph.audit.service import AuditAction
from portal_graph.customers.loaders import CustomerByIdLoader
from portal_graph.customers.types import Customer
from portal_graph.graphql.core.audiences import ADMIN, audience, field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.relay import Node

AuditActionEnum = strawberry.enum(AuditAction, name="AuditAction")


@audience(ADMIN)
@strawberry.type(description="A person named in the audit log.")
class AuditPerson:
    email: str
    name: str | None


@audience(ADMIN)
@strawberry.type(description="One recorded change to who may sign in here and what they see: "
                             "who, what, when, where.")
class AuditEvent(Node):
    customer_ids: strawberry.Private[list[uuid.UUID]]
    action: AuditActionEnum  # type: ignore[valid-type]
    occurred_at: datetime
    actor: AuditPerson | None = strawberry.field(
        description="Who made the change; null when that person no longer exists.")
    target_email: str | None = strawberry.field(
        description="The email of the person whose access or account changed.")
    client_address: str | None = strawberry.field(
        description="The network address the change was made from.")

    @field(audiences=ADMIN, guard=False,
           description="The customers concerned (those that still exist), by name.")
    async def customers(self, info: Info) -> list[Customer]:
        rows = await info.context.loaders.get(CustomerByIdLoader).load_many(self.customer_ids)
        found = sorted((row for row in rows if row is not None), key=lambda r: (r.name, r.id))
        return [Customer.from_row(row) for row in found]

    @classmethod
    def from_row(cls, row: Row[Any]) -> AuditEvent:
        actor = (AuditPerson(email=row.actor_email, name=row.actor_name)
                 if row.actor_email is not None else None)
        return cls(db_id=row.id, customer_ids=list(row.customer_ids or ()),
                   action=AuditAction(row.action), occurred_at=row.occurred_at, actor=actor,
                   target_email=row.target_email,
                   client_address=str(row.client_address) if row.client_address else None)
