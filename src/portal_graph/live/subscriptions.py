"""The Subscription root: live changes, each read through the subscriber's scope.

Per-audience like every field: admins hear of invitations and external users, anyone signed in
hears of the jobs they can see (for an external user: their customers' COMPLETED jobs, so a job
appears to them the moment it is completed, and never before).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import cast

import strawberry

from portal_graph.events import EventKind
from portal_graph.external_users.loaders import ExternalUserByIdLoader
from portal_graph.external_users.types import ExternalUser
from portal_graph.graphql.core.audiences import ADMIN, SIGNED_IN, subscription
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.relay import parse_id
from portal_graph.invitations.loaders import InvitationByIdLoader
from portal_graph.invitations.types import Invitation
from portal_graph.live.watch import LiveContext, Watched, watch
from portal_graph.work.loaders import JobByIdLoader
from portal_graph.work.types import Job

# job.completed and the second event of a revocation are also told as *.updated: once is enough.
JOB_EVENTS = frozenset({EventKind.JOB_CREATED, EventKind.JOB_UPDATED})
INVITATION_EVENTS = frozenset({EventKind.INVITATION_UPDATED})
EXTERNAL_USER_EVENTS = frozenset({EventKind.EXTERNAL_USER_UPDATED})


def _live(info: Info) -> LiveContext:
    return cast(LiveContext, info.context)


@strawberry.type
class LiveSubscriptions:
    @subscription(audiences=SIGNED_IN, description=(
        "Jobs as they are created or change (status, schedule, completion), optionally of one "
        "customer; only those you can see, at the moment you can see them."))
    async def job_updated(self, info: Info, customer_id: strawberry.ID | None = None,
                          ) -> AsyncGenerator[Job, None]:
        customer = parse_id(customer_id, "Customer") if customer_id is not None else None
        if customer_id is not None and customer is None:
            return  # not a customer's id: nothing will ever match
        async for row in watch(_live(info), Watched(JOB_EVENTS, JobByIdLoader, customer)):
            yield Job.from_row(row)

    @subscription(audiences=ADMIN, description=(
        "Invitations as they change: issued, re-sent, cancelled, accepted, and their email "
        "queued, sent or failed (`emailStatus`)."))
    async def invitation_updated(self, info: Info) -> AsyncGenerator[Invitation, None]:
        async for row in watch(_live(info), Watched(INVITATION_EVENTS, InvitationByIdLoader)):
            yield Invitation.from_row(row)

    @subscription(audiences=ADMIN, description=(
        "External users as their customers change or their access is revoked."))
    async def external_user_updated(self, info: Info) -> AsyncGenerator[ExternalUser, None]:
        async for row in watch(_live(info),
                               Watched(EXTERNAL_USER_EVENTS, ExternalUserByIdLoader)):
            yield ExternalUser.from_row(row)
