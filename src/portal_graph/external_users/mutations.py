"""Mutations on external users' access: revoke one customer, revoke all, set the customers."""

from __future__ import annotations

import strawberry

from portal_graph.capabilities import MANAGE_EXTERNAL_USERS
from portal_graph.external_users import service
from portal_graph.external_users.types import ExternalUser
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.payloads import act_on, mutation, payload
from portal_graph.graphql.core.relay import parse_id


@strawberry.input
class RevokeExternalAccessInput:
    external_user_id: strawberry.ID
    customer_id: strawberry.ID


@payload
class RevokeExternalAccessPayload:
    external_user: ExternalUser | None = None


@strawberry.input
class RevokeAllExternalAccessInput:
    external_user_id: strawberry.ID


@payload
class RevokeAllExternalAccessPayload:
    external_user: ExternalUser | None = None


@strawberry.input
class SetExternalUserCustomersInput:
    external_user_id: strawberry.ID
    customer_ids: list[strawberry.ID]


@payload
class SetExternalUserCustomersPayload:
    external_user: ExternalUser | None = None


@strawberry.type
class ExternalUserMutations:
    @mutation(payload=RevokeExternalAccessPayload, rule=MANAGE_EXTERNAL_USERS, description=(
        "Remove an external user's access to one customer; their other customers stay."))
    async def revoke_external_access(
        self, info: Info, input: RevokeExternalAccessInput,
    ) -> RevokeExternalAccessPayload:
        return RevokeExternalAccessPayload(external_user=await act_on(
            info, ExternalUser, service.revoke_access, input.external_user_id,
            customer_id=parse_id(input.customer_id, "Customer")))

    @mutation(payload=RevokeAllExternalAccessPayload, rule=MANAGE_EXTERNAL_USERS, description=(
        "Remove all of an external user's access to this organization: grants, pending "
        "invitations, sessions and API tokens. Their account remains."))
    async def revoke_all_external_access(
        self, info: Info, input: RevokeAllExternalAccessInput,
    ) -> RevokeAllExternalAccessPayload:
        return RevokeAllExternalAccessPayload(external_user=await act_on(
            info, ExternalUser, service.revoke_all_access, input.external_user_id))

    @mutation(payload=SetExternalUserCustomersPayload, rule=MANAGE_EXTERNAL_USERS, description=(
        "Set exactly which customers an external user sees (at least one). For a person whose "
        "access was revoked entirely, this gives access back."))
    async def set_external_user_customers(
        self, info: Info, input: SetExternalUserCustomersInput,
    ) -> SetExternalUserCustomersPayload:
        return SetExternalUserCustomersPayload(external_user=await act_on(
            info, ExternalUser, service.set_customers, input.external_user_id,
            customer_ids=[parse_id(c, "Customer") for c in input.customer_ids]))
