"""Rules for organizations, staff logins and their settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from portal_graph.accounts import repository as repo
from portal_graph.auth.email import is_valid_email, normalize_email
from portal_graph.auth.passwords import hash_password, password_weakness
from portal_graph.customers.service import clean_name
from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.problems import Rejected, UserErrorCode, invalid
from portal_graph.scope import Scope


async def create_staff_member(
    session: RequestSession, scope: Scope, *, email: str, name: str | None, role: models.Role,
    password: str | None,
) -> Row[Any]:
    """A staff login. A person who already has an account (in another organization) keeps
    their password; a new person needs one."""
    if not is_valid_email(email):
        raise Rejected(UserErrorCode.INVALID_EMAIL, "Enter a valid email address.", "email")
    normalized = normalize_email(email)
    person = await repo.person_by_email(session, normalized)
    if person is None:
        if not password:
            raise Rejected(UserErrorCode.WEAK_PASSWORD, "Set a password for the new login.",
                           "password")
        weakness = password_weakness(password, normalized)
        if weakness:
            raise Rejected(UserErrorCode.WEAK_PASSWORD, weakness, "password")
        person = await repo.insert_person(
            session, email=email.strip(), email_normalized=normalized,
            name=clean_name(name) if name and name.strip() else None,
            password_hash=await hash_password(password))
    else:
        is_staff, is_external = await repo.membership_of(session, scope.organization_id,
                                                         person.id)
        if is_staff:
            raise Rejected(UserErrorCode.DUPLICATE_EMAIL,
                           "A staff member with this email already exists.", "email")
        if is_external:
            raise Rejected(UserErrorCode.EXTERNAL_USER,
                           "This email belongs to an external user of this account; "
                           "revoke their external access first.", "email")
    staff_id = await repo.insert_staff(session, scope.organization_id, person.id, role)
    return (await repo.staff_by_ids(session, scope, [staff_id]))[staff_id]


async def set_invitation_ttl(session: RequestSession, scope: Scope, days: int) -> Row[Any]:
    if not 1 <= days <= 30:
        raise invalid("Invitations can last 1 to 30 days.", "invitationTtlDays")
    return await repo.set_invitation_ttl(session, scope.organization_id, days)


async def create_organization(session: RequestSession, *, name: str, ttl_days: int,
                              admin_email: str, admin_password: str,
                              admin_name: str | None = None) -> tuple[Row[Any], Row[Any]]:
    """A new organization with its first admin (used by the CLI and the demo seed)."""
    from portal_graph.scope import admin_scope

    org = await repo.insert_organization(session, name=clean_name(name),
                                         invitation_ttl_days=ttl_days)
    admin = await create_staff_member(session, admin_scope(org.id), email=admin_email,
                                      name=admin_name, role=models.Role.ADMIN,
                                      password=admin_password)
    return org, admin
