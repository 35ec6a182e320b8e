"""SQL for invitations and their customers. Every read of an organization's invitations starts
from a Scope; the only unscoped read is the lookup by token digest, which is how an anonymous
invitee finds the one invitation (and organization) their link belongs to.

Expiry is read against the database clock: each row comes with `expired`, computed by SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, func, insert, or_, select, update
from sqlalchemy.engine import Row

from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.db.tables import customers, invitation_customers, invitations, organizations
from portal_graph.db.tenancy import SystemContext, runs_in
from portal_graph.invitations.tokens import IssuedLinks
from portal_graph.scope import Scope, visible
from portal_graph.scoped_sql import shapes
from portal_graph.scoped_sql.rows import grouped_by, link_customers, listing_by_ids

_SHAPES = shapes.Shapes()

PENDING = models.InvitationState.PENDING
PENDING_INDEX = "uq_invitations_pending_email"

EXPIRED = (invitations.c.expires_at <= func.now()).label("expired")
COLUMNS = (*invitations.c, EXPIRED)


def _ttl(organization_id: uuid.UUID) -> Any:
    """now() + the organization's invitation lifetime, on the database clock."""
    days = (select(organizations.c.invitation_ttl_days)
            .where(organizations.c.id == organization_id).scalar_subquery())
    return func.now() + func.make_interval(0, 0, 0, days)


def listing(scope: Scope, status: str | None = None,
            kind: models.InvitationKind | None = None) -> Select[Any]:
    """`status` is a read status: PENDING and EXPIRED split the stored PENDING state by expiry."""
    statement = select(*COLUMNS).where(visible(scope, invitations))
    if kind is not None:
        statement = statement.where(invitations.c.kind == kind)
    if status == "PENDING":
        statement = statement.where(invitations.c.state == PENDING,
                                    invitations.c.expires_at > func.now())
    elif status == "EXPIRED":
        statement = statement.where(invitations.c.state == PENDING,
                                    invitations.c.expires_at <= func.now())
    elif status is not None:
        statement = statement.where(invitations.c.state == models.InvitationState(status))
    return statement


async def by_ids(session: RequestSession, scope: Scope,
                 ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
    return await listing_by_ids(session, scope, _SHAPES, listing, invitations.c.id, ids)


async def lock(session: RequestSession, scope: Scope, invitation_id: uuid.UUID) -> Row[Any] | None:
    """The invitation, locked until the end of the transaction (resend, cancel)."""
    return (await session.execute(
        listing(scope).where(invitations.c.id == invitation_id).with_for_update())).first()


async def lock_pending_for_email(session: RequestSession, scope: Scope,
                                 email_normalized: str) -> Row[Any] | None:
    """The one pending (possibly expired) invitation of an email, locked."""
    return (await session.execute(
        listing(scope).where(invitations.c.state == PENDING,
                             invitations.c.email_normalized == email_normalized)
        .with_for_update())).first()


async def insert_pending(session: RequestSession, scope: Scope, *, email: str,
                         email_normalized: str, name: str | None, links: IssuedLinks,
                         invited_by_id: uuid.UUID | None, kind: models.InvitationKind,
                         role: models.Role | None) -> Row[Any]:
    """A new pending invitation; the partial unique index refuses a second one per email."""
    return (await session.execute(
        insert(invitations).values(
            organization_id=scope.organization_id, id=models.new_id(), email=email,
            email_normalized=email_normalized, name=name, state=PENDING,
            token_hash=links.copied.digest, emailed_token_hash=links.emailed.digest,
            expires_at=_ttl(scope.organization_id), invited_by_id=invited_by_id, kind=kind,
            role=role)
        .returning(*COLUMNS))).one()


async def reissue(session: RequestSession, scope: Scope, invitation_id: uuid.UUID, *,
                  links: IssuedLinks, name: str | None = None,
                  role: models.Role | None = None) -> Row[Any]:
    """New links (the old ones stop working) and a fresh expiry, counted from now."""
    values: dict[str, Any] = {"token_hash": links.copied.digest,
                              "emailed_token_hash": links.emailed.digest,
                              "expires_at": _ttl(scope.organization_id),
                              "last_sent_at": func.now()}
    if name:
        values["name"] = name
    if role is not None:
        values["role"] = role
    return (await session.execute(
        update(invitations).where(visible(scope, invitations), invitations.c.id == invitation_id)
        .values(**values).returning(*COLUMNS))).one()


async def revoke(session: RequestSession, scope: Scope, invitation_id: uuid.UUID) -> Row[Any]:
    return (await session.execute(
        update(invitations).where(visible(scope, invitations), invitations.c.id == invitation_id,
                                  invitations.c.state == PENDING)
        .values(state=models.InvitationState.REVOKED, revoked_at=func.now())
        .returning(*COLUMNS))).one()


async def revoke_pending_for_email(session: RequestSession, scope: Scope,
                                   email_normalized: str) -> list[uuid.UUID]:
    rows = await session.execute(
        update(invitations).where(visible(scope, invitations), invitations.c.state == PENDING,
                                  invitations.c.email_normalized == email_normalized)
        .values(state=models.InvitationState.REVOKED, revoked_at=func.now())
        .returning(invitations.c.id))
    return list(rows.scalars())


async def add_customers(session: RequestSession, scope: Scope, invitation_id: uuid.UUID,
                        customer_ids: Iterable[uuid.UUID]) -> None:
    await link_customers(session, scope, invitation_customers, "invitation_id", invitation_id,
                         customer_ids)


def customers_with_invitation(scope: Scope) -> Select[Any]:
    """Visible customers with the id of each invitation naming them (column `invitation_id`)."""
    return (select(customers, invitation_customers.c.invitation_id)
            .join_from(customers, invitation_customers,
                       (invitation_customers.c.organization_id == customers.c.organization_id)
                       & (invitation_customers.c.customer_id == customers.c.id))
            .where(visible(scope, customers), visible(scope, invitation_customers)))


async def customers_by_invitations(
    session: RequestSession, scope: Scope, invitation_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, list[Row[Any]]]:
    """Each invitation's customers (those that still exist), by name."""
    statement = _SHAPES.get(scope, ("customers_by_invitations",), lambda: (
        customers_with_invitation(scope)
        .where(shapes.one_of(invitation_customers.c.invitation_id, "invitation_ids"))
        .order_by(customers.c.name, customers.c.id)))
    return await grouped_by(session, scope, statement,
                             "invitation_id", invitation_ids=invitation_ids)


async def pending_by_customers(
    session: RequestSession, scope: Scope, customer_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, list[Row[Any]]]:
    """Each customer's unaccepted, uncancelled invitations (expired ones too), newest first."""
    statement = _SHAPES.get(scope, ("pending_by_customers",), lambda: (
        select(*COLUMNS, invitation_customers.c.customer_id.label("for_customer"))
        .join_from(invitations, invitation_customers,
                   (invitation_customers.c.organization_id == invitations.c.organization_id)
                   & (invitation_customers.c.invitation_id == invitations.c.id))
        .where(visible(scope, invitations), invitations.c.state == PENDING,
               shapes.one_of(invitation_customers.c.customer_id, "customer_ids"))
        .order_by(invitations.c.id.desc())))
    return await grouped_by(session, scope, statement, "for_customer", customer_ids=customer_ids)


# --- the invitee's side: found by token, then claimed once ----------------------------------


def _either_link(digest: bytes) -> Any:
    return or_(invitations.c.token_hash == digest, invitations.c.emailed_token_hash == digest)


@runs_in(SystemContext.INVITATION_TOKEN)
async def by_digest(session: RequestSession, digest: bytes) -> Row[Any] | None:
    """The invitation a link (copied or emailed) belongs to, in whichever organization, with
    that organization's name and `via_email`: whether the link was the emailed one. Trusted:
    the caller holds a token, which is the invitation's only secret."""
    return (await session.execute(
        select(*COLUMNS, organizations.c.name.label("organization_name"),
               func.coalesce(invitations.c.emailed_token_hash == digest, False)
               .label("via_email"))
        .join_from(invitations, organizations, organizations.c.id == invitations.c.organization_id)
        .where(_either_link(digest)))).first()


async def claim(session: RequestSession, scope: Scope, invitation_id: uuid.UUID,
                digest: bytes) -> Row[Any] | None:
    """Mark a pending, unexpired invitation accepted, in ONE conditional statement: of
    concurrent claims the row lock lets exactly one through; the others match nothing."""
    return (await session.execute(
        update(invitations)
        .where(visible(scope, invitations), invitations.c.id == invitation_id,
               _either_link(digest), invitations.c.state == PENDING,
               invitations.c.expires_at > func.now())
        .values(state=models.InvitationState.ACCEPTED, accepted_at=func.now())
        .returning(*COLUMNS))).first()


async def set_accepted_person(session: RequestSession, scope: Scope, invitation_id: uuid.UUID,
                              person_id: uuid.UUID) -> None:
    await session.execute(
        update(invitations).where(visible(scope, invitations), invitations.c.id == invitation_id)
        .values(accepted_person_id=person_id))
