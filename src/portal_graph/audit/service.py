"""Recording audit events: who did what to whom, for which customers, from where, when.

Events are written in the same transaction as the change they describe, so a change that rolls
back leaves no event and a committed change always has one.
"""

from __future__ import annotations

import enum
import ipaddress
import uuid
from collections.abc import Iterable
from typing import Any

from portal_graph.actor import Actor
from portal_graph.audit import repository as repo
from portal_graph.db.session import RequestSession
from portal_graph.scope import Scope


class AuditAction(enum.Enum):
    INVITATION_SENT = "INVITATION_SENT"
    INVITATION_RESENT = "INVITATION_RESENT"
    INVITATION_REVOKED = "INVITATION_REVOKED"
    INVITATION_ACCEPTED = "INVITATION_ACCEPTED"
    ACCESS_REVOKED = "ACCESS_REVOKED"
    ALL_ACCESS_REVOKED = "ALL_ACCESS_REVOKED"
    CUSTOMERS_SET = "CUSTOMERS_SET"
    STAFF_ROLE_CHANGED = "STAFF_ROLE_CHANGED"
    STAFF_DEACTIVATED = "STAFF_DEACTIVATED"
    STAFF_REACTIVATED = "STAFF_REACTIVATED"
    PASSWORD_RESET = "PASSWORD_RESET"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"
    # The mailbox owner replaced, through an emailed link, a password set through a copied one.
    ACCOUNT_TAKEN_BACK = "ACCOUNT_TAKEN_BACK"
    # Changes staff make to what external users see of the work (issue 13).
    CUSTOMER_UPDATED = "CUSTOMER_UPDATED"
    CUSTOMER_ARCHIVED = "CUSTOMER_ARCHIVED"
    JOB_UPDATED = "JOB_UPDATED"
    ASSET_UPDATED = "ASSET_UPDATED"
    MAP_CAPTURE_UPDATED = "MAP_CAPTURE_UPDATED"
    MAP_CAPTURE_DELETED = "MAP_CAPTURE_DELETED"


def _address(value: str | None) -> str | None:
    """The column is INET: anything that is not an IP address (a test client's name) is dropped."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


async def record(
    session: RequestSession, scope: Scope, actor: Actor, action: AuditAction, *,
    target_person_id: uuid.UUID | None = None, target_email: str | None = None,
    invitation_id: uuid.UUID | None = None, customer_ids: Iterable[uuid.UUID] = (),
    details: dict[str, Any] | None = None,
) -> None:
    await repo.add(session, scope, {
        "action": action.value,
        "actor_person_id": actor.person_id,
        "target_person_id": target_person_id,
        "target_email": target_email,
        "invitation_id": invitation_id,
        "customer_ids": sorted(set(customer_ids)),
        "client_address": _address(actor.client_address),
        "details": details or {},
    })
