"""The operator's bootstrap: a new organization and its first login, password included.

The only place a password is set by someone other than the account's person (docs/RULES.md):
`portal-graph create-organization` and the demo seed, run by whoever runs the server, never
reachable through the API. Such an account is not proven (nobody acted through its mailbox): it
is usable in the organization it was made for, and joins another one only through the mailbox.
An email that already has an account is refused: the operator does not attach, or reset,
somebody's account.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from portal_graph.accounts import ownership, persons
from portal_graph.accounts import repository as repo
from portal_graph.auth.email import parse_or_reject
from portal_graph.customers.service import clean_name
from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.problems import Rejected, UserErrorCode
from portal_graph.scope import Scope, admin_scope

ACCOUNT_EXISTS = ("This email already has an account. Make the organization with another "
                  "email, then invite this one from it: its person accepts.")


async def add_staff_with_operator_password(
    session: RequestSession, scope: Scope, *, email: str, name: str | None,
    role: models.Role, password: str,
) -> Row[Any]:
    """A staff login of a NEW account whose password the operator chose (bootstrap only)."""
    address = parse_or_reject(email)
    if await persons.by_email(session, address.key) is not None:
        raise Rejected(UserErrorCode.DUPLICATE_EMAIL, ACCOUNT_EXISTS, "email")
    password_hash = await ownership.new_password(password, address.key)
    person_id = await persons.add(
        session, email=address.address, email_key=address.key,
        name=clean_name(name) if name and name.strip() else None, password_hash=password_hash,
        proven=False, set_in_organization_id=scope.organization_id)
    if person_id is None:
        raise Rejected(UserErrorCode.DUPLICATE_EMAIL, ACCOUNT_EXISTS, "email")
    staff_id = await repo.insert_staff(session, scope, person_id, role)
    return (await repo.staff_by_ids(session, scope, [staff_id]))[staff_id]


async def create_organization(session: RequestSession, *, name: str, ttl_days: int,
                              admin_email: str, admin_password: str,
                              admin_name: str | None = None) -> tuple[Row[Any], Row[Any]]:
    """A new organization with its first admin (the CLI and the demo seed)."""
    org = await repo.insert_organization(session, name=clean_name(name),
                                         invitation_ttl_days=ttl_days)
    admin = await add_staff_with_operator_password(
        session, admin_scope(org.id), email=admin_email, name=admin_name,
        role=models.Role.ADMIN, password=admin_password)
    return org, admin
