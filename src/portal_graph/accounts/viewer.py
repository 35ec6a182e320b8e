"""The `Viewer` object: the signed-in person, their organization and the ones they can switch
to. Read by `me` and by the payloads that sign someone in."""

from __future__ import annotations

import strawberry

from portal_graph.accounts import repository as repo
from portal_graph.accounts.types import Organization, Viewer, audience_of
from portal_graph.accounts.types import memberships as membership_types
from portal_graph.auth import repository as auth_repo
from portal_graph.auth import service as auth
from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import SystemContext
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.relay import to_global_id
from portal_graph.scope import Viewer as ViewerState
from portal_graph.scope import scope_for


async def build_viewer(session: RequestSession, viewer: ViewerState) -> Viewer | None:
    """The `Viewer` object of a request's viewer; None for an anonymous one."""
    scope = scope_for(viewer)
    if viewer.person_id is None or scope is None:
        return None
    org = await repo.organization(session, scope)
    if org is None:
        return None
    person_id = viewer.person_id
    choices = await session.as_system(SystemContext.MEMBERSHIPS,
                                      lambda: auth_repo.memberships(session, person_id))
    return Viewer(
        person_id=viewer.person_id, state=viewer, email=viewer.email or "", name=viewer.name,
        audience=audience_of(viewer.audience), role=viewer.role,
        organization=Organization.from_row(org),
        memberships=membership_types(choices),
        customer_ids=[strawberry.ID(to_global_id("Customer", c))
                      for c in sorted(viewer.granted_customer_ids)],
    )


async def viewer_of_session(info: Info, token: str) -> Viewer | None:
    """The viewer a session token just issued acts as, exactly as its next request will see it
    (for the payloads of login, switchOrganization and acceptInvitation). Read as that
    viewer, in its organization; this request acts for its own viewer again afterwards."""
    ctx = info.context

    async def as_new_viewer() -> Viewer | None:
        viewer = await auth.resolve_viewer(ctx.session, token, ctx.settings)
        return await build_viewer(ctx.session, viewer)

    return await ctx.session.exclusively(as_new_viewer)
