"""Rules for an organization's settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from portal_graph.accounts import repository as repo
from portal_graph.db.session import RequestSession
from portal_graph.problems import invalid
from portal_graph.scope import Scope


async def set_invitation_ttl(session: RequestSession, scope: Scope, days: int) -> Row[Any]:
    if not 1 <= days <= 30:
        raise invalid("Invitations can last 1 to 30 days.", "invitationTtlDays")
    return await repo.set_invitation_ttl(session, scope, days)
