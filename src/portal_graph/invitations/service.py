"""The invitation lifecycle on the admin's side: invite (or merge into the pending invitation),
resend, cancel. Each change queues its email in the same transaction (the outbox) and records
an audit event; services flush, never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from portal_graph.accounts import repository as accounts_repo
from portal_graph.audit.service import Actor, AuditAction, record
from portal_graph.auth.email import is_valid_email, normalize_email
from portal_graph.config import Settings
from portal_graph.customers.service import clean_name
from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.external_users import repository as external_repo
from portal_graph.external_users.service import NO_COMPANY, require_customers
from portal_graph.invitations import repository as repo
from portal_graph.invitations import tokens
from portal_graph.mail import outbox, templates
from portal_graph.mail.secretbox import SecretBox
from portal_graph.problems import Problem, Rejected, UserErrorCode, not_found
from portal_graph.scope import Scope

ALREADY_MEMBER = "User already belongs to this account"
INTERNAL_MEMBER = ("This email belongs to a team member of this account. External users need "
                   "an email address of their own.")
NOT_PENDING = "This invitation was already accepted or cancelled."
MERGE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Mail:
    """What queuing an invitation email needs: the link base and the key for the link."""

    settings: Settings
    box: SecretBox


@dataclass(frozen=True, slots=True)
class Issued:
    invitation: Row[Any]
    invite_url: str  # the only time the raw token leaves the server, besides the email


async def invite(session: RequestSession, scope: Scope, actor: Actor, mail: Mail, *, email: str,
                 name: str | None, customer_ids: Sequence[uuid.UUID | None]) -> Issued:
    """Invite an email to see the given customers. One pending invitation per email: a second
    invite adds its customers to the pending one (even an expired one), resets its expiry and
    replaces its link. Customers the person already holds here are not invited again."""
    problems = []
    if not is_valid_email(email):
        problems.append(Problem(UserErrorCode.INVALID_EMAIL, "Enter a valid email address.",
                                ("email",)))
    if not customer_ids:
        problems.append(Problem(UserErrorCode.NO_COMPANY_SELECTED, NO_COMPANY, ("customerIds",)))
    if problems:
        raise Rejected.many(problems)
    selected = {row.id for row in await require_customers(session, scope, customer_ids)}
    normalized = normalize_email(email)
    cleaned_name = clean_name(name) if name and name.strip() else None
    person = await accounts_repo.person_by_email(session, normalized)
    missing = await _not_yet_held(session, scope, person, selected)

    issued = tokens.issue()
    row, merged = await _pending_invitation(
        session, scope, actor, email=email.strip(), email_normalized=normalized,
        name=cleaned_name, digest=issued.digest)
    await repo.add_customers(session, scope, row.id, missing)
    url = tokens.invite_url(mail.settings, issued.token)
    await _queue_email(session, scope, actor, mail, row, url, kind="resend" if merged else "invite")
    await record(session, scope, actor, AuditAction.INVITATION_SENT,
                 target_person_id=person.id if person else None, target_email=row.email,
                 invitation_id=row.id, customer_ids=missing, details={"merged": merged})
    return Issued(row, url)


async def _not_yet_held(session: RequestSession, scope: Scope, person: Row[Any] | None,
                        selected: set[uuid.UUID]) -> set[uuid.UUID]:
    if person is None:
        return selected
    is_staff, _ = await accounts_repo.membership_of(session, scope.organization_id, person.id)
    if is_staff:
        raise Rejected(UserErrorCode.INTERNAL_MEMBER, INTERNAL_MEMBER, "email")
    member = await external_repo.by_person(session, scope, person.id)
    if member is None or member.access_revoked_at is not None:
        return selected
    missing = selected - await external_repo.granted_ids(session, scope, member.id)
    if not missing:
        raise Rejected(UserErrorCode.ALREADY_MEMBER, ALREADY_MEMBER, "email")
    return missing


async def _pending_invitation(session: RequestSession, scope: Scope, actor: Actor, *, email: str,
                              email_normalized: str, name: str | None,
                              digest: bytes) -> tuple[Row[Any], bool]:
    """(the email's pending invitation with the new token, whether it existed already).

    Two concurrent first invites of one email both find nothing; the partial unique index lets
    one insert through and the other fails, and that one then merges into the winner's row.
    """
    for _ in range(MERGE_ATTEMPTS):
        existing = await repo.lock_pending_for_email(session, scope, email_normalized)
        if existing is not None:
            return await repo.reissue(session, scope, existing.id, digest=digest,
                                      name=name), True
        try:
            async with session.begin_nested():
                row = await repo.insert_pending(
                    session, scope, email=email, email_normalized=email_normalized, name=name,
                    digest=digest, invited_by_id=actor.staff_member_id)
            return row, False
        except IntegrityError as error:
            if repo.PENDING_INDEX not in str(error.orig):
                raise
    raise RuntimeError("the pending invitation of an email kept changing; giving up")


async def _locked(session: RequestSession, scope: Scope,
                  invitation_id: uuid.UUID | None) -> Row[Any]:
    row = None if invitation_id is None else await repo.lock(session, scope, invitation_id)
    if row is None:
        raise not_found("Invitation", "invitationId")
    if row.state is not models.InvitationState.PENDING:
        raise Rejected(UserErrorCode.INVITATION_NOT_PENDING, NOT_PENDING, "invitationId")
    return row


async def resend(session: RequestSession, scope: Scope, actor: Actor, mail: Mail, *,
                 invitation_id: uuid.UUID | None) -> Issued:
    """A new link (the old one stops working) and expiry, by a new email. Works for pending
    invitations, expired ones included."""
    row = await _locked(session, scope, invitation_id)
    issued = tokens.issue()
    row = await repo.reissue(session, scope, row.id, digest=issued.digest)
    url = tokens.invite_url(mail.settings, issued.token)
    customer_ids = await _queue_email(session, scope, actor, mail, row, url, kind="resend")
    await record(session, scope, actor, AuditAction.INVITATION_RESENT, target_email=row.email,
                 invitation_id=row.id, customer_ids=customer_ids)
    return Issued(row, url)


async def revoke(session: RequestSession, scope: Scope, actor: Actor, *,
                 invitation_id: uuid.UUID | None) -> Row[Any]:
    """Cancel a pending (or expired) invitation: its link stops working at once and its
    unsent emails are dropped."""
    row = await _locked(session, scope, invitation_id)
    row = await repo.revoke(session, scope, row.id)
    await outbox.discard_queued(session, scope.organization_id, row.id)
    customers = (await repo.customers_by_invitations(session, scope, [row.id]))[row.id]
    await record(session, scope, actor, AuditAction.INVITATION_REVOKED, target_email=row.email,
                 invitation_id=row.id, customer_ids=[c.id for c in customers])
    return row


async def _queue_email(session: RequestSession, scope: Scope, actor: Actor, mail: Mail,
                       invitation: Row[Any], url: str, *, kind: str) -> list[uuid.UUID]:
    """Queue the invitation's email (any still-queued one, with its dead link, is dropped);
    returns the invitation's customer ids."""
    organization = await accounts_repo.organization(session, scope.organization_id)
    assert organization is not None
    customers = (await repo.customers_by_invitations(session, scope, [invitation.id]))[
        invitation.id]
    await outbox.enqueue(
        session, organization_id=scope.organization_id, template=templates.INVITATION,
        to_address=invitation.email,
        params={"organization_name": organization.name,
                "customer_names": [c.name for c in customers],
                "expires_at": invitation.expires_at.isoformat(),
                "invitee_name": invitation.name, "inviter_name": actor.name, "kind": kind},
        secret=url, box=mail.box, invitation_id=invitation.id)
    return _ids(customers)


def _ids(rows: Iterable[Row[Any]]) -> list[uuid.UUID]:
    return [row.id for row in rows]
