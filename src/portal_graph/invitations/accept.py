"""The invitee's side: previewing an invitation by its token and accepting it (anonymous).

A token is looked up by its digest and compared in constant time; an unknown, cancelled, used or
replaced token gets one answer (INVITATION_INVALID, or no preview), so tokens cannot be probed.
Acceptance is decided by one conditional UPDATE: of concurrent accepts exactly one wins.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row

from portal_graph.accounts import repository as accounts_repo
from portal_graph.audit.service import Actor, AuditAction, record
from portal_graph.auth import service as auth
from portal_graph.auth.passwords import hash_password, password_weakness, verify_password
from portal_graph.config import Settings
from portal_graph.customers.service import clean_name
from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import SystemContext
from portal_graph.external_users import repository as external_repo
from portal_graph.invitations import repository as repo
from portal_graph.invitations import tokens
from portal_graph.problems import Rejected, UserErrorCode
from portal_graph.scope import Scope, admin_scope

INVALID = "This invitation link is not valid. Ask the person who invited you for a new one."
EXPIRED = "Invite expired"
WRONG_PASSWORD = "That password does not match your existing account."


@dataclass(frozen=True, slots=True)
class Preview:
    organization_name: str
    email: str
    name: str | None
    customer_names: list[str]
    expires_at: datetime
    expired: bool
    password_required: bool  # False: the person has an account and proves it instead


async def _find(session: RequestSession, token: str) -> tuple[Row[Any], bytes] | None:
    """The pending (possibly expired) invitation of a token, with the token's digest. Any
    organization's: the token is what tells which (the INVITATION_TOKEN system context)."""
    digest = tokens.digest_of(token)
    if digest is None:
        return None
    row = await session.as_system(SystemContext.INVITATION_TOKEN,
                                  lambda: repo.by_digest(session, digest))
    if (row is None or not tokens.matches(row.token_hash, token)
            or row.state is not models.InvitationState.PENDING):
        return None
    return row, digest


async def _customers(session: RequestSession, scope: Scope,
                     invitation_id: uuid.UUID) -> list[Row[Any]]:
    return (await repo.customers_by_invitations(session, scope, [invitation_id]))[invitation_id]


async def preview(session: RequestSession, token: str) -> Preview | None:
    found = await _find(session, token)
    if found is None:
        return None
    row, _ = found

    async def read() -> Preview:
        customers = await _customers(session, admin_scope(row.organization_id), row.id)
        person = await accounts_repo.person_by_email(session, row.email_normalized)
        return Preview(organization_name=row.organization_name, email=row.email, name=row.name,
                       customer_names=[c.name for c in customers], expires_at=row.expires_at,
                       expired=bool(row.expired),
                       password_required=person is None or not person.password_hash)

    return await session.acting_for(row.organization_id, read)


async def accept(session: RequestSession, settings: Settings, *, token: str, password: str,
                 name: str | None, client_address: str | None) -> auth.LoginResult:
    """Accept an invitation and sign in. A new person chooses a password; a person who already
    has an account enters its password, which stays as it is."""
    found = await _find(session, token)
    if found is None:
        raise Rejected(UserErrorCode.INVITATION_INVALID, INVALID, "token")
    row, digest = found
    if row.expired:
        raise Rejected(UserErrorCode.INVITATION_EXPIRED, EXPIRED, "token")
    # The rest happens in the invitation's organization, which the token has just named.
    return await session.acting_for(row.organization_id, lambda: _join(
        session, settings, row, digest, password=password, name=name,
        client_address=client_address))


async def _join(session: RequestSession, settings: Settings, row: Row[Any], digest: bytes, *,
                password: str, name: str | None, client_address: str | None,
                ) -> auth.LoginResult:
    scope = admin_scope(row.organization_id)
    person = await accounts_repo.person_by_email(session, row.email_normalized)
    new_hash = await _password(person, password, row.email_normalized)
    if person is not None:
        is_staff, _ = await accounts_repo.membership_of(session, row.organization_id, person.id)
        if is_staff:  # became an employee login here since the invite: it cannot be both
            raise Rejected(UserErrorCode.INVITATION_INVALID, INVALID, "token")

    if await repo.claim(session, scope, row.id, digest) is None:
        raise Rejected(UserErrorCode.INVITATION_INVALID, INVALID, "token")
    chosen_name = clean_name(name) if name and name.strip() else row.name
    person_id = await _person(session, person, row, new_hash, chosen_name)
    await repo.set_accepted_person(session, scope, row.id, person_id)
    external_user_id = await external_repo.join(session, scope, person_id, row.created_at)
    customer_ids = [c.id for c in await _customers(session, scope, row.id)]
    await external_repo.grant(session, scope, external_user_id, customer_ids)
    await record(session, scope, Actor(person_id, client_address),
                 AuditAction.INVITATION_ACCEPTED, target_person_id=person_id,
                 target_email=row.email, invitation_id=row.id, customer_ids=customer_ids)
    return await auth.start_session_in(session, settings, person_id, row.organization_id,
                                       client_address)


async def _password(person: Row[Any] | None, password: str, email: str) -> str | None:
    """The hash to store for a new password, or None when an existing one was proven."""
    if person is not None and person.password_hash:
        if not await verify_password(person.password_hash, password):
            raise Rejected(UserErrorCode.INVALID_CREDENTIALS, WRONG_PASSWORD, "password")
        return None
    weakness = password_weakness(password, email)
    if weakness:
        raise Rejected(UserErrorCode.WEAK_PASSWORD, weakness, "password")
    return await hash_password(password)


async def _person(session: RequestSession, person: Row[Any] | None, invitation: Row[Any],
                  new_hash: str | None, name: str | None) -> uuid.UUID:
    if person is not None:
        await external_repo.complete_person(session, person.id, password_hash=new_hash,
                                            name=name)
        return person.id  # type: ignore[no-any-return]
    assert new_hash is not None
    person_id = await external_repo.add_person(
        session, email=invitation.email, email_normalized=invitation.email_normalized,
        name=name, password_hash=new_hash)
    if person_id is None:
        # The same email got an account a moment ago (another organization's invitation):
        # this password was never checked against it. Nothing is kept; accepting again works.
        raise Rejected(UserErrorCode.INVALID_CREDENTIALS, WRONG_PASSWORD, "password")
    return person_id
