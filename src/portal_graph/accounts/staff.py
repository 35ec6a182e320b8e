"""The staff lifecycle, by admins: change a member's role, deactivate and reactivate them.

Roles and deactivation are read on every request, so a change applies to the member's very next
request; deactivating also ends their sessions and API tokens here, and whatever was derived
from them. An organization always keeps one active admin: the last one can be neither demoted
nor deactivated (LAST_ADMIN), decided under a lock on the organization's admin rows so that two
admins demoting each other at once cannot both succeed.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.engine import Row

from portal_graph.accounts import repository as repo
from portal_graph.actor import Actor
from portal_graph.audit.service import AuditAction, record
from portal_graph.auth import revocation
from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.problems import Rejected, UserErrorCode, not_found
from portal_graph.scope import Scope

LAST_ADMIN = "An organization needs an active admin: make someone else an admin first."


async def _locked(session: RequestSession, scope: Scope,
                  staff_member_id: uuid.UUID | None) -> tuple[Row[Any], int]:
    """The member, locked, and how many active admins the organization has."""
    rows = [] if staff_member_id is None else await repo.lock_admins_and(
        session, scope, staff_member_id)
    member = next((row for row in rows if row.id == staff_member_id), None)
    if member is None:
        raise not_found("Staff member", "staffMemberId")
    admins = sum(1 for row in rows
                 if row.role is models.Role.ADMIN and row.deactivated_at is None)
    return member, admins


def _is_last_admin(member: Row[Any], admins: int) -> bool:
    return member.role is models.Role.ADMIN and member.deactivated_at is None and admins <= 1


async def _fresh(session: RequestSession, scope: Scope, staff_member_id: uuid.UUID) -> Row[Any]:
    return (await repo.staff_by_ids(session, scope, [staff_member_id]))[staff_member_id]


async def set_role(session: RequestSession, scope: Scope, actor: Actor,
                   staff_member_id: uuid.UUID | None, *, role: models.Role) -> Row[Any]:
    member, admins = await _locked(session, scope, staff_member_id)
    if member.role is not role:
        if role is not models.Role.ADMIN and _is_last_admin(member, admins):
            raise Rejected(UserErrorCode.LAST_ADMIN, LAST_ADMIN, "role")
        await repo.set_role(session, scope, member.id, role)
        row = await _fresh(session, scope, member.id)
        await record(session, scope, actor, AuditAction.STAFF_ROLE_CHANGED,
                     target_person_id=member.person_id, target_email=row.email,
                     details={"from": member.role.value, "to": role.value})
    return await _fresh(session, scope, member.id)


async def deactivate(session: RequestSession, scope: Scope, actor: Actor,
                     staff_member_id: uuid.UUID | None) -> Row[Any]:
    """The member acts for nobody from their next request: their sessions and API tokens here
    end, and so does everything derived from a session they had here."""
    member, admins = await _locked(session, scope, staff_member_id)
    if member.deactivated_at is None:
        if _is_last_admin(member, admins):
            raise Rejected(UserErrorCode.LAST_ADMIN, LAST_ADMIN, "staffMemberId")
        await repo.set_deactivated(session, scope, member.id, deactivated=True)
        sessions, api_tokens = await revocation.end_membership_credentials(
            session, scope.organization_id, member.person_id)
        row = await _fresh(session, scope, member.id)
        await record(session, scope, actor, AuditAction.STAFF_DEACTIVATED,
                     target_person_id=member.person_id, target_email=row.email,
                     details={"sessions_ended": sessions, "api_tokens_revoked": api_tokens})
    return await _fresh(session, scope, member.id)


async def reactivate(session: RequestSession, scope: Scope, actor: Actor,
                     staff_member_id: uuid.UUID | None) -> Row[Any]:
    """The member can sign in here again (with their own password; no session comes back)."""
    member, _ = await _locked(session, scope, staff_member_id)
    if member.deactivated_at is not None:
        await repo.set_deactivated(session, scope, member.id, deactivated=False)
        row = await _fresh(session, scope, member.id)
        await record(session, scope, actor, AuditAction.STAFF_REACTIVATED,
                     target_person_id=member.person_id, target_email=row.email)
    return await _fresh(session, scope, member.id)
