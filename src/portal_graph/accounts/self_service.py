"""What a signed-in person does to their own account: change the password, change the name.

Both need a session (an API token cannot, docs/RULES.md). Changing the password needs the
current one, checked against login's per-email limit by the caller, and ends the person's
other sessions in every organization; their API tokens stay (integrations keep running).
"""

from __future__ import annotations

import uuid

from portal_graph.accounts import ownership, persons
from portal_graph.actor import Actor
from portal_graph.audit.service import AuditAction, record
from portal_graph.auth import repository as auth_repo
from portal_graph.auth import revocation
from portal_graph.auth.passwords import verify_password
from portal_graph.auth.service import require_session
from portal_graph.customers.service import clean_name
from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import SystemContext
from portal_graph.problems import Rejected, UserErrorCode
from portal_graph.scope import Viewer, admin_scope

WRONG_CURRENT = "That is not your current password."


async def change_password(session: RequestSession, viewer: Viewer, *, current: str, new: str,
                          client_address: str | None) -> int:
    """Set a new password; returns how many other sessions ended."""
    keep = require_session(viewer)
    assert viewer.person_id is not None
    person = await persons.by_id(session, viewer.person_id)
    assert person is not None
    if not await verify_password(person.password_hash, current):
        raise Rejected(UserErrorCode.INVALID_CREDENTIALS, WRONG_CURRENT, "currentPassword")
    await persons.update(session, person.id, password_hash=await ownership.new_password(
        new, person.email_normalized, field="newPassword"))
    ended = await revocation.end_other_sessions(session, person.id, keep)
    await record_in_every_organization(
        session, person.id, person.email, Actor(person.id, client_address),
        AuditAction.PASSWORD_CHANGED, {"other_sessions_ended": ended})
    return ended


async def update_profile(session: RequestSession, viewer: Viewer, *, name: str) -> str:
    """Set the person's name; returns it as stored."""
    require_session(viewer)
    assert viewer.person_id is not None
    cleaned = clean_name(name)
    await persons.update(session, viewer.person_id, name=cleaned, replace_name=True)
    return cleaned


async def record_in_every_organization(session: RequestSession, person_id: uuid.UUID,
                                       email: str, actor: Actor, action: AuditAction,
                                       details: dict[str, object]) -> None:
    """An account change concerns every organization the person can act in: each one's audit
    log records it (and learns nothing about the others). The ACCOUNT system context: the
    person's organizations, whichever one the request acts in (or none, for a reset)."""

    async def record_everywhere() -> None:
        for membership in await auth_repo.memberships(session, person_id):
            await record(session, admin_scope(membership.organization_id), actor, action,
                         target_person_id=person_id, target_email=email, details=details)

    await session.as_system(SystemContext.ACCOUNT, record_everywhere)
