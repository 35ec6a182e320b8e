"""The invitation lifecycle on the admin's side: invite an external user or a staff member (or
merge into the email's pending invitation), resend, cancel. Each change queues its email in the
same transaction (the outbox) and records an audit event; services flush, never commit.

What an admin is told depends only on this organization's own data (is the email staff here,
an external user here, invited here already): never on whether the email has an account
somewhere else (docs/RULES.md), and neither does the work done (the same statements either
way, so the timing does not tell either).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from portal_graph.accounts import repository as accounts_repo
from portal_graph.actor import Actor
from portal_graph.audit.service import AuditAction, record
from portal_graph.auth.email import Email, InvalidEmail, parse_email, parse_or_reject
from portal_graph.capabilities import invitation_open
from portal_graph.config import Settings
from portal_graph.customers.service import clean_name
from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.events import EventKind, publish
from portal_graph.external_users import repository as external_repo
from portal_graph.external_users.service import NO_COMPANY, require_customers
from portal_graph.invitations import repository as repo
from portal_graph.invitations import tokens
from portal_graph.mail import outbox, templates
from portal_graph.mail import repository as mail_repo
from portal_graph.mail.secretbox import SecretBox
from portal_graph.problems import Problem, Rejected, UserErrorCode, not_found
from portal_graph.scope import Scope

ALREADY_MEMBER = "User already belongs to this account"
INTERNAL_MEMBER = ("This email belongs to a team member of this account. External users need "
                   "an email address of their own.")
STAFF_PENDING = ("This email has a pending team-member invitation in this account; cancel it "
                 "first to invite it as an external user.")
ALREADY_STAFF = "A staff member with this email already exists."
EXTERNAL_USER = ("This email belongs to an external user of this account; revoke their "
                 "external access first.")
EXTERNAL_PENDING = ("This email has a pending external-user invitation in this account; "
                    "cancel it first to invite it as a team member.")
NOT_PENDING = "This invitation was already accepted or cancelled."
MERGE_ATTEMPTS = 3
EXTERNAL, STAFF = models.InvitationKind.EXTERNAL, models.InvitationKind.STAFF


@dataclass(frozen=True, slots=True)
class Mail:
    """What queuing an invitation email needs: the link base and the key for the link."""

    settings: Settings
    box: SecretBox


@dataclass(frozen=True, slots=True)
class Issued:
    invitation: Row[Any]
    invite_url: str  # the copied link: shown once to the admin, never emailed


async def invite(session: RequestSession, scope: Scope, actor: Actor, mail: Mail, *, email: str,
                 name: str | None, customer_ids: Sequence[uuid.UUID | None]) -> Issued:
    """Invite an email to see the given customers. One pending invitation per email: a second
    invite adds its customers to the pending one (even an expired one), resets its expiry and
    replaces its links. Customers the person already holds here are not invited again."""
    problems = []
    try:
        address = parse_email(email)
    except InvalidEmail as error:
        problems.append(Problem(UserErrorCode.INVALID_EMAIL, str(error), ("email",)))
    if not customer_ids:
        problems.append(Problem(UserErrorCode.NO_COMPANY_SELECTED, NO_COMPANY, ("customerIds",)))
    if problems:
        raise Rejected.many(problems)
    selected = {row.id for row in await require_customers(session, scope, customer_ids)}
    missing = await _not_yet_held(session, scope, address, selected)
    row, merged, url = await _issue(session, scope, actor, mail, address,
                                    name=_cleaned(name), kind=EXTERNAL, role=None)
    await repo.add_customers(session, scope, row.id, missing)
    await _queue_email(session, scope, actor, mail, row, url, resend=merged)
    await record(session, scope, actor, AuditAction.INVITATION_SENT, target_email=row.email,
                 invitation_id=row.id, customer_ids=missing,
                 details={"merged": merged, "kind": EXTERNAL.value})
    await _changed(session, scope, row)
    return Issued(row, url.copied)


async def invite_staff(session: RequestSession, scope: Scope, actor: Actor, mail: Mail, *,
                       email: str, name: str | None, role: models.Role) -> Issued:
    """Invite an email to join the staff with a role; the person sets (or proves) their own
    password on accepting. Inviting again while one is pending updates its role and name and
    replaces its links."""
    address = parse_or_reject(email)
    await _may_join_staff(session, scope, address)
    row, merged, url = await _issue(session, scope, actor, mail, address,
                                    name=_cleaned(name), kind=STAFF, role=role)
    await _queue_email(session, scope, actor, mail, row, url, resend=merged)
    await record(session, scope, actor, AuditAction.INVITATION_SENT, target_email=row.email,
                 invitation_id=row.id,
                 details={"merged": merged, "kind": STAFF.value, "role": role.value})
    await _changed(session, scope, row)
    return Issued(row, url.copied)


def _cleaned(name: str | None) -> str | None:
    return clean_name(name) if name and name.strip() else None


async def _may_join_staff(session: RequestSession, scope: Scope, address: Email) -> None:
    here = await accounts_repo.here_by_email(session, scope, address.key)
    if here.is_staff:
        raise Rejected(UserErrorCode.DUPLICATE_EMAIL, ALREADY_STAFF, "email")
    if here.external_user_id is not None:
        raise Rejected(UserErrorCode.EXTERNAL_USER, EXTERNAL_USER, "email")
    pending = await repo.lock_pending_for_email(session, scope, address.key)
    if pending is not None and pending.kind is EXTERNAL:
        raise Rejected(UserErrorCode.EXTERNAL_USER, EXTERNAL_PENDING, "email")


async def _not_yet_held(session: RequestSession, scope: Scope, address: Email,
                        selected: set[uuid.UUID]) -> set[uuid.UUID]:
    pending = await repo.lock_pending_for_email(session, scope, address.key)
    if pending is not None and pending.kind is STAFF:
        raise Rejected(UserErrorCode.INTERNAL_MEMBER, STAFF_PENDING, "email")
    here = await accounts_repo.here_by_email(session, scope, address.key)
    if here.is_staff:
        raise Rejected(UserErrorCode.INTERNAL_MEMBER, INTERNAL_MEMBER, "email")
    if here.external_user_id is None or here.external_access_revoked:
        return selected
    missing = selected - await external_repo.granted_ids(session, scope,
                                                         here.external_user_id)
    if not missing:
        raise Rejected(UserErrorCode.ALREADY_MEMBER, ALREADY_MEMBER, "email")
    return missing


@dataclass(frozen=True, slots=True)
class _Links:
    copied: str
    emailed: str


async def _issue(session: RequestSession, scope: Scope, actor: Actor, mail: Mail,
                 address: Email, *, name: str | None, kind: models.InvitationKind,
                 role: models.Role | None) -> tuple[Row[Any], bool, _Links]:
    """(the email's pending invitation with new links, whether it existed, the links).

    Two concurrent first invites of one email both find nothing; the partial unique index lets
    one insert through and the other fails, and that one then merges into the winner's row.
    """
    links = tokens.issue_links()
    urls = _Links(tokens.invite_url(mail.settings, links.copied.token),
                  tokens.invite_url(mail.settings, links.emailed.token))
    for _ in range(MERGE_ATTEMPTS):
        existing = await repo.lock_pending_for_email(session, scope, address.key)
        if existing is not None:
            if existing.kind is not kind:  # changed kind since the checks: refuse, as they do
                raise Rejected(UserErrorCode.INTERNAL_MEMBER if kind is EXTERNAL
                               else UserErrorCode.EXTERNAL_USER,
                               STAFF_PENDING if kind is EXTERNAL else EXTERNAL_PENDING, "email")
            row = await repo.reissue(session, scope, existing.id, links=links, name=name,
                                     role=role)
            return row, True, urls
        try:
            async with session.begin_nested():
                row = await repo.insert_pending(
                    session, scope, email=address.address, email_normalized=address.key,
                    name=name, links=links, invited_by_id=actor.staff_member_id, kind=kind,
                    role=role)
            return row, False, urls
        except IntegrityError as error:
            if repo.PENDING_INDEX not in str(error.orig):
                raise
    raise RuntimeError("the pending invitation of an email kept changing; giving up")


async def _locked(session: RequestSession, scope: Scope,
                  invitation_id: uuid.UUID | None) -> Row[Any]:
    row = None if invitation_id is None else await repo.lock(session, scope, invitation_id)
    if row is None:
        raise not_found("Invitation", "invitationId")
    if not invitation_open(row.state):
        raise Rejected(UserErrorCode.INVITATION_NOT_PENDING, NOT_PENDING, "invitationId")
    return row


async def resend(session: RequestSession, scope: Scope, actor: Actor, mail: Mail, *,
                 invitation_id: uuid.UUID | None) -> Issued:
    """New links (the old ones stop working) and expiry, by a new email. Works for pending
    invitations, expired ones included, of either kind."""
    row = await _locked(session, scope, invitation_id)
    links = tokens.issue_links()
    row = await repo.reissue(session, scope, row.id, links=links)
    urls = _Links(tokens.invite_url(mail.settings, links.copied.token),
                  tokens.invite_url(mail.settings, links.emailed.token))
    customer_ids = await _queue_email(session, scope, actor, mail, row, urls, resend=True)
    await record(session, scope, actor, AuditAction.INVITATION_RESENT, target_email=row.email,
                 invitation_id=row.id, customer_ids=customer_ids,
                 details={"kind": row.kind.value})
    await _changed(session, scope, row)
    return Issued(row, urls.copied)


async def revoke(session: RequestSession, scope: Scope, actor: Actor,
                 invitation_id: uuid.UUID | None) -> Row[Any]:
    """Cancel a pending (or expired) invitation: its links stop working at once and its
    unsent emails are dropped."""
    row = await _locked(session, scope, invitation_id)
    row = await repo.revoke(session, scope, row.id)
    await mail_repo.discard_queued(session, scope, row.id)
    customers = (await repo.customers_by_invitations(session, scope, [row.id]))[row.id]
    await record(session, scope, actor, AuditAction.INVITATION_REVOKED, target_email=row.email,
                 invitation_id=row.id, customer_ids=[c.id for c in customers],
                 details={"kind": row.kind.value})
    await _changed(session, scope, row)
    return row


async def _queue_email(session: RequestSession, scope: Scope, actor: Actor, mail: Mail,
                       invitation: Row[Any], urls: _Links, *, resend: bool) -> list[uuid.UUID]:
    """Queue the invitation's email with the EMAILED link (any still-queued one, with its dead
    link, is dropped); returns the invitation's customer ids."""
    organization = await accounts_repo.organization(session, scope)
    assert organization is not None
    customers = (await repo.customers_by_invitations(session, scope, [invitation.id]))[
        invitation.id]
    await outbox.enqueue(
        session, scope, template=templates.INVITATION,
        to_address=invitation.email,
        params={"organization_name": organization.name,
                "customer_names": [c.name for c in customers],
                "expires_at": invitation.expires_at.isoformat(),
                "invitee_name": invitation.name, "inviter_name": actor.name,
                "kind": "resend" if resend else "invite",
                "invitation_kind": invitation.kind.value,
                "role": invitation.role.value if invitation.role else None},
        secret=urls.emailed, box=mail.box, invitation_id=invitation.id)
    return _ids(customers)


def _ids(rows: Iterable[Row[Any]]) -> list[uuid.UUID]:
    return [row.id for row in rows]


async def _changed(session: RequestSession, scope: Scope, invitation: Row[Any]) -> None:
    """Tell of an invitation issued, merged, re-sent or cancelled."""
    await publish(session, scope, EventKind.INVITATION_UPDATED, "Invitation", invitation.id)
