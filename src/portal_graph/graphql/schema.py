"""Schema assembly: the root types merged from each domain, one schema per audience."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from portal_graph.accounts.loaders import StaffMemberByIdLoader
from portal_graph.accounts.mutations import AccountMutations, ProfileMutations, StaffMutations
from portal_graph.accounts.queries import AccountQueries
from portal_graph.accounts.types import StaffMember
from portal_graph.customers.loaders import CustomerByIdLoader
from portal_graph.customers.mutations import CustomerMutations
from portal_graph.customers.queries import CustomerQueries
from portal_graph.customers.types import Customer
from portal_graph.external_users.schema import (
    EXTERNAL_USER_MUTATIONS,
    EXTERNAL_USER_NODES,
    EXTERNAL_USER_QUERIES,
)
from portal_graph.feed.types import FeedQueries
from portal_graph.graphql.core.audiences import SIGNED_IN, AudienceSchema, field
from portal_graph.graphql.core.context import Context, Info
from portal_graph.graphql.core.loaders import ScopedLoader
from portal_graph.graphql.core.relay import Node, from_global_id
from portal_graph.live.subscriptions import LiveSubscriptions
from portal_graph.scope import Audience
from portal_graph.webhooks.mutations import WebhookMutations, WebhookQueries
from portal_graph.work import loaders as work_loaders
from portal_graph.work.mutations import WorkMutations, WorkUpdateMutations
from portal_graph.work.queries import WorkQueries
from portal_graph.work.types import Asset, Job, MapCapture


@dataclass(frozen=True)
class NodeKind:
    """How `node(id:)` fetches one type: its loader (scoped) and its constructor."""

    type_: type
    loader: type[ScopedLoader]
    make: Callable[[Any], Any]

    @property
    def audiences(self) -> frozenset[Audience]:
        return getattr(self.type_, "__audiences__")  # type: ignore[no-any-return]  # noqa: B009


NODE_KINDS: dict[str, NodeKind] = {
    "Customer": NodeKind(Customer, CustomerByIdLoader, Customer.from_row),
    "Job": NodeKind(Job, work_loaders.JobByIdLoader, Job.from_row),
    "Asset": NodeKind(Asset, work_loaders.AssetByIdLoader, Asset.from_row),
    "MapCapture": NodeKind(MapCapture, work_loaders.MapCaptureByIdLoader, MapCapture.from_row),
    "StaffMember": NodeKind(StaffMember, StaffMemberByIdLoader, StaffMember.from_row),
    **{name: NodeKind(*kind) for name, kind in EXTERNAL_USER_NODES.items()},
}


async def node_row(context: Context, global_id: str) -> tuple[NodeKind, Any] | None:
    """The kind and row of any visible object by global id; None, exactly as for a missing
    one, otherwise. Both execution paths use it."""
    parsed = from_global_id(global_id)
    if parsed is None:
        return None
    type_name, id_ = parsed
    kind = NODE_KINDS.get(type_name)
    if kind is None or context.viewer.audience not in kind.audiences:
        return None
    row = await context.loaders.get(kind.loader).load(id_)
    return None if row is None else (kind, row)


async def resolve_node(info: Info, global_id: str) -> Any:
    found = await node_row(info.context, global_id)
    return None if found is None else found[0].make(found[1])


@strawberry.type
class NodeQueries:
    @field(audiences=SIGNED_IN, description="Any object you can see, by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)  # type: ignore[no-any-return]


Query = merge_types("Query", (NodeQueries, AccountQueries, CustomerQueries, WorkQueries,
                              FeedQueries, WebhookQueries, *EXTERNAL_USER_QUERIES))
Mutation = merge_types("Mutation", (AccountMutations, StaffMutations, ProfileMutations,
                                    CustomerMutations, WorkMutations, WorkUpdateMutations,
                                    WebhookMutations,
                                    *EXTERNAL_USER_MUTATIONS))
Subscription = merge_types("Subscription", (LiveSubscriptions,))
ROOT_TYPES: tuple[type, ...] = (Query, Mutation, Subscription)


def _config(audience: Audience | None) -> StrawberryConfig:
    staff = audience in (None, Audience.STAFF, Audience.ADMIN)
    return StrawberryConfig(auto_camel_case=True, disable_field_suggestions=not staff)


def build_schema(audience: Audience | None) -> AudienceSchema:
    # Anonymous callers have no subscription (an empty root type is not a valid schema).
    live = None if audience is Audience.ANONYMOUS else Subscription
    return AudienceSchema(query=Query, mutation=Mutation, subscription=live, audience=audience,
                          config=_config(audience),
                          types=[kind.type_ for kind in NODE_KINDS.values()
                                 if audience is None or audience in kind.audiences])


@cache
def full_schema() -> AudienceSchema:
    """Every type and field: `schema.graphql`, and the reference for FORBIDDEN checks."""
    return build_schema(None)


@cache
def audience_schema(audience: Audience) -> AudienceSchema:
    return build_schema(audience)
