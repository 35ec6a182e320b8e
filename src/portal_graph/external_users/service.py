"""Rules for external users: which customers they may see, and taking access away.

Services flush, never commit: the request's one transaction makes each change all-or-nothing,
and a `Rejected` rolls the mutation's savepoint back so nothing of a refused change is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Row

from portal_graph.actor import Actor
from portal_graph.audit.service import AuditAction, record
from portal_graph.auth import revocation
from portal_graph.capabilities import customer_open
from portal_graph.customers import repository as customers_repo
from portal_graph.db.session import RequestSession
from portal_graph.events import EventKind, publish
from portal_graph.external_users import repository as repo
from portal_graph.invitations import repository as invitations_repo
from portal_graph.mail import repository as mail_repo
from portal_graph.problems import Rejected, UserErrorCode, not_found
from portal_graph.scope import Scope
from portal_graph.scoped_sql.rows import visible_by_ids

NO_COMPANY = "Select at least one company"


ARCHIVED = "An archived customer cannot be given to external users."


async def require_customers(session: RequestSession, scope: Scope,
                            customer_ids: Sequence[uuid.UUID | None],
                            field: str = "customerIds") -> list[Row[Any]]:
    """The named customers of this organization, by name; NO_COMPANY_SELECTED for none and
    NOT_FOUND when any id is not a customer here (or not an id at all), CUSTOMER_ARCHIVED when
    any is archived."""
    if not customer_ids:
        raise Rejected(UserErrorCode.NO_COMPANY_SELECTED, NO_COMPANY, field)
    if any(c is None for c in customer_ids):
        raise not_found("Customer", field)
    wanted = sorted({c for c in customer_ids if c is not None})
    found = await visible_by_ids(session, scope, customers_repo.customers, wanted)
    if len(found) != len(wanted):
        raise not_found("Customer", field)
    if not all(customer_open(row.archived_at) for row in found.values()):
        raise Rejected(UserErrorCode.CUSTOMER_ARCHIVED, ARCHIVED, field)
    return sorted(found.values(), key=lambda row: (row.name, row.id))


async def _external_user(session: RequestSession, scope: Scope,
                         external_user_id: uuid.UUID | None) -> Row[Any]:
    row = None if external_user_id is None else await repo.lock(session, scope,
                                                                external_user_id)
    if row is None:
        raise not_found("External user", "externalUserId")
    return row


async def _fresh(session: RequestSession, scope: Scope, external_user_id: uuid.UUID) -> Row[Any]:
    return (await repo.by_ids(session, scope, [external_user_id]))[external_user_id]


async def revoke_access(session: RequestSession, scope: Scope, actor: Actor,
                        external_user_id: uuid.UUID | None, *,
                        customer_id: uuid.UUID | None) -> Row[Any]:
    """Remove one grant; every other grant stays. With none left, the account remains and sees
    an empty portal."""
    user = await _external_user(session, scope, external_user_id)
    removed = [] if customer_id is None else await repo.remove_grants(
        session, scope, user.id, [customer_id])
    if not removed:
        raise not_found("Customer access", "customerId")
    await record(session, scope, actor, AuditAction.ACCESS_REVOKED, target_person_id=user.person_id,
                 target_email=user.email, customer_ids=removed)
    await _changed(session, scope, user.id, EventKind.EXTERNAL_USER_UPDATED)
    return await _fresh(session, scope, user.id)


async def revoke_all_access(session: RequestSession, scope: Scope, actor: Actor,
                            external_user_id: uuid.UUID | None) -> Row[Any]:
    """Everything this person has in this organization ends at once: grants, pending
    invitations (and their unsent emails), sessions and API tokens. Their account, and what
    they have in other organizations, remain."""
    user = await _external_user(session, scope, external_user_id)
    removed = await repo.remove_grants(session, scope, user.id)
    cancelled = await invitations_repo.revoke_pending_for_email(session, scope,
                                                                user.email_normalized)
    for invitation_id in cancelled:
        await mail_repo.discard_queued(session, scope, invitation_id)
        await publish(session, scope, EventKind.INVITATION_UPDATED, "Invitation", invitation_id)
    sessions, api_tokens = await revocation.end_membership_credentials(
        session, scope.organization_id, user.person_id)
    await repo.set_access_revoked(session, scope, user.id, revoked=True)
    await record(session, scope, actor, AuditAction.ALL_ACCESS_REVOKED,
                 target_person_id=user.person_id, target_email=user.email, customer_ids=removed,
                 details={"invitations_revoked": [str(i) for i in cancelled],
                          "sessions_ended": sessions, "api_tokens_revoked": api_tokens})
    await _changed(session, scope, user.id, EventKind.EXTERNAL_USER_ACCESS_REVOKED)
    return await _fresh(session, scope, user.id)


async def set_customers(session: RequestSession, scope: Scope, actor: Actor,
                        external_user_id: uuid.UUID | None, *,
                        customer_ids: Sequence[uuid.UUID | None]) -> Row[Any]:
    """Make the grants exactly the given (non-empty) set. For a person whose access was
    revoked entirely, this gives access back: an admin choosing their companies means it."""
    wanted = {row.id for row in await require_customers(session, scope, customer_ids)}
    user = await _external_user(session, scope, external_user_id)
    held = await repo.granted_ids(session, scope, user.id)
    removed = await repo.remove_grants(session, scope, user.id, held - wanted)
    await repo.grant(session, scope, user.id, wanted - held)
    if user.access_revoked_at is not None:
        await repo.set_access_revoked(session, scope, user.id, revoked=False)
    await record(session, scope, actor, AuditAction.CUSTOMERS_SET,
                 target_person_id=user.person_id, target_email=user.email, customer_ids=wanted,
                 details={"added": sorted(str(c) for c in wanted - held),
                          "removed": [str(c) for c in removed]})
    await _changed(session, scope, user.id, EventKind.EXTERNAL_USER_UPDATED)
    return await _fresh(session, scope, user.id)


async def _changed(session: RequestSession, scope: Scope, external_user_id: uuid.UUID,
                   kind: EventKind) -> None:
    """Tell of changed grants; revoking everything is also an external_user.updated."""
    await publish(session, scope, kind, "ExternalUser", external_user_id)
    if kind is not EventKind.EXTERNAL_USER_UPDATED:
        await publish(session, scope, EventKind.EXTERNAL_USER_UPDATED, "ExternalUser",
                      external_user_id)
