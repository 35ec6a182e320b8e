"""The invitee's side: previewing an invitation by its token and accepting it.

A token (the copied link's or the emailed one's) is looked up by its digest and compared in
constant time; an unknown, cancelled, used or replaced token gets one answer
(INVITATION_INVALID, or no preview), so tokens cannot be probed. Who may accept with an account
that exists is decided by `accounts/ownership.py`. Acceptance is decided by one conditional
UPDATE: of concurrent accepts exactly one wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row

from portal_graph.accounts import ownership, persons
from portal_graph.accounts import repository as accounts_repo
from portal_graph.accounts.ownership import Admission, Entry, PasswordChoice
from portal_graph.actor import Actor
from portal_graph.audit.service import AuditAction, record
from portal_graph.auth import revocation
from portal_graph.auth import service as auth
from portal_graph.config import Settings
from portal_graph.customers.service import clean_name
from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import SystemContext
from portal_graph.events import EventKind, publish
from portal_graph.external_users import repository as external_repo
from portal_graph.invitations import repository as repo
from portal_graph.invitations import tokens
from portal_graph.problems import Rejected, UserErrorCode
from portal_graph.scope import Scope, Viewer, admin_scope

INVALID = "This invitation link is not valid. Ask the person who invited you for a new one."
EXPIRED = "Invite expired"
RACED = "This email got an account a moment ago; accept again with its password."


@dataclass(frozen=True, slots=True)
class Preview:
    organization_name: str
    email: str
    name: str | None
    kind: models.InvitationKind
    role: models.Role | None
    customer_names: list[str]
    expires_at: datetime
    expired: bool
    password_choice: PasswordChoice


@dataclass(frozen=True, slots=True)
class Found:
    invitation: Row[Any]
    digest: bytes
    via_email: bool  # the emailed link, which proves the mailbox; else the copied one


async def _find(session: RequestSession, token: str) -> Found | None:
    """The pending (possibly expired) invitation of a token, and which of its links it is."""
    digest = tokens.digest_of(token)
    if digest is None:
        return None
    # Any organization's: the token is what tells which (the INVITATION_TOKEN context).
    row = await session.as_system(SystemContext.INVITATION_TOKEN,
                                  lambda: repo.by_digest(session, digest))
    if row is None or row.state is not models.InvitationState.PENDING:
        return None
    stored = row.emailed_token_hash if row.via_email else row.token_hash
    if not tokens.matches(stored, token):
        return None
    return Found(row, digest, bool(row.via_email))


async def _customers(session: RequestSession, scope: Scope,
                     invitation_id: uuid.UUID) -> list[Row[Any]]:
    return (await repo.customers_by_invitations(session, scope, [invitation_id]))[invitation_id]


async def preview(session: RequestSession, token: str) -> Preview | None:
    """What the link is for. Through the copied link it does not say whether the email has an
    account (its holder may be the admin who issued it); through the emailed link, which only
    the mailbox owner holds, it says which password to ask for."""
    found = await _find(session, token)
    if found is None:
        return None
    row = found.invitation

    async def read() -> Preview:
        customers = await _customers(session, admin_scope(row.organization_id), row.id)
        person = (await persons.by_email(session, row.email_normalized) if found.via_email
                  else None)
        return Preview(organization_name=row.organization_name, email=row.email, name=row.name,
                       kind=row.kind, role=row.role, customer_names=[c.name for c in customers],
                       expires_at=row.expires_at, expired=bool(row.expired),
                       password_choice=ownership.password_choice(person, found.via_email))

    # The rest happens in the invitation's organization, which the token has just named.
    return await session.acting_for(row.organization_id, read)


PasswordGuard = Callable[[str], Awaitable[None]]


async def accept(session: RequestSession, settings: Settings, *, token: str,
                 password: str | None, name: str | None, caller: Viewer,
                 client_address: str | None, guard_password: PasswordGuard) -> auth.LoginResult:
    """Accept an invitation and sign in. `caller` is who sent the request: their own session
    (not an API token) is consent for their own account. `guard_password` charges a password
    about to be checked to the email's login limit."""
    found = await _find(session, token)
    if found is None:
        raise Rejected(UserErrorCode.INVITATION_INVALID, INVALID, "token")
    row = found.invitation
    if row.expired:
        raise Rejected(UserErrorCode.INVITATION_EXPIRED, EXPIRED, "token")
    # The rest happens in the invitation's organization, which the token has just named.
    return await session.acting_for(row.organization_id, lambda: _accept_found(
        session, settings, found, password=password, name=name, caller=caller,
        client_address=client_address, guard_password=guard_password))


async def _accept_found(session: RequestSession, settings: Settings, found: Found, *,
                        password: str | None, name: str | None, caller: Viewer,
                        client_address: str | None, guard_password: PasswordGuard,
                        ) -> auth.LoginResult:
    row = found.invitation
    person = await persons.by_email(session, row.email_normalized)
    signed_in = (person is not None and caller.session_id is not None
                 and caller.person_id == person.id)
    if password and not signed_in:
        # Charged whether or not the email has an account: the limit itself says nothing.
        await guard_password(row.email_normalized)
    admission = await ownership.admit(person, row.organization_id, row.email_normalized,
                                      via_email=found.via_email, signed_in=signed_in,
                                      password=password)
    scope = admin_scope(row.organization_id)
    if person is not None:
        await _refuse_a_second_membership(session, scope, row, person.id)
    if await repo.claim(session, scope, row.id, found.digest) is None:
        raise Rejected(UserErrorCode.INVITATION_INVALID, INVALID, "token")
    chosen_name = clean_name(name) if name and name.strip() else row.name
    person_id = await _person(session, person, row, admission, chosen_name)
    if admission.entry is Entry.TAKEN_BACK:
        ended = await revocation.end_every_credential(session, person_id)
        await record(session, scope, Actor(person_id, client_address),
                     AuditAction.ACCOUNT_TAKEN_BACK, target_person_id=person_id,
                     target_email=row.email, invitation_id=row.id,
                     details={"sessions_ended": ended[0], "api_tokens_revoked": ended[1]})
    await repo.set_accepted_person(session, scope, row.id, person_id)
    customer_ids = await _join(session, scope, row, person_id)
    await record(session, scope, Actor(person_id, client_address),
                 AuditAction.INVITATION_ACCEPTED, target_person_id=person_id,
                 target_email=row.email, invitation_id=row.id, customer_ids=customer_ids,
                 details={"kind": row.kind.value, "via_email": found.via_email,
                          "entry": admission.entry.value,
                          **({"role": row.role.value} if row.role else {})})
    for kind in (EventKind.INVITATION_ACCEPTED, EventKind.INVITATION_UPDATED):
        await publish(session, scope, kind, "Invitation", row.id)
    return await auth.start_session_in(
        session, settings, person_id, row.organization_id, client_address,
        parent_session_id=caller.session_id if signed_in else None)


async def _refuse_a_second_membership(session: RequestSession, scope: Scope,
                                      invitation: Row[Any], person_id: uuid.UUID) -> None:
    """A person is staff or external in an organization, never both: one that became the
    other kind here since the invitation was sent cannot accept it."""
    is_staff, is_external = await accounts_repo.membership_of(session, scope, person_id)
    if is_staff or (is_external and invitation.kind is models.InvitationKind.STAFF):
        raise Rejected(UserErrorCode.INVITATION_INVALID, INVALID, "token")


async def _person(session: RequestSession, person: Row[Any] | None, invitation: Row[Any],
                  admission: Admission, name: str | None) -> uuid.UUID:
    if person is not None:
        await persons.update(session, person.id, password_hash=admission.new_password_hash,
                             proven=admission.proven, name=name,
                             replace_name=admission.entry is Entry.TAKEN_BACK)
        return person.id  # type: ignore[no-any-return]
    assert admission.new_password_hash is not None
    person_id = await persons.add(
        session, email=invitation.email, email_key=invitation.email_normalized, name=name,
        password_hash=admission.new_password_hash, proven=admission.proven,
        set_in_organization_id=invitation.organization_id)
    if person_id is None:
        # The same email got an account a moment ago (another organization's invitation):
        # this password was never checked against it. Nothing is kept; accepting again works.
        raise Rejected(UserErrorCode.INVALID_CREDENTIALS, RACED, "password")
    return person_id


async def _join(session: RequestSession, scope: Scope, invitation: Row[Any],
                person_id: uuid.UUID) -> list[uuid.UUID]:
    """The membership the invitation grants; returns the customers granted."""
    if invitation.kind is models.InvitationKind.STAFF:
        await accounts_repo.insert_staff(session, scope, person_id, invitation.role)
        return []
    external_user_id = await external_repo.join(session, scope, person_id,
                                                invitation.created_at)
    customer_ids = [c.id for c in await _customers(session, scope, invitation.id)]
    await external_repo.grant(session, scope, external_user_id, customer_ids)
    return customer_ids
