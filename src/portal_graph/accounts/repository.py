"""SQL for staff members, persons and organization settings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, func, insert, select, update
from sqlalchemy.engine import Row

from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.db.tables import (
    external_users,
    job_assignments,
    organizations,
    persons,
    staff_members,
)
from portal_graph.db.tenancy import SystemContext, runs_in
from portal_graph.scope import Scope, visible
from portal_graph.scoped_sql import shapes
from portal_graph.scoped_sql.rows import grouped_by, listing_by_ids

_SHAPES = shapes.Shapes()


def staff_listing(scope: Scope) -> Select[Any]:
    return (select(staff_members, persons.c.email, persons.c.name)
            .join_from(staff_members, persons, persons.c.id == staff_members.c.person_id)
            .where(visible(scope, staff_members)))


async def staff_by_ids(session: RequestSession, scope: Scope,
                       ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
    return await listing_by_ids(session, scope, _SHAPES, staff_listing,
                                     staff_members.c.id, ids)


async def staff_by_jobs(session: RequestSession, scope: Scope,
                        job_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Row[Any]]]:
    statement = _SHAPES.get(scope, ("staff_by_jobs",), lambda: (
        staff_listing(scope).add_columns(job_assignments.c.job_id.label("job_id"))
        .join(job_assignments,
              (job_assignments.c.organization_id == staff_members.c.organization_id)
              & (job_assignments.c.staff_member_id == staff_members.c.id))
        .where(shapes.one_of(job_assignments.c.job_id, "job_ids"))
        .order_by(persons.c.name, staff_members.c.id)))
    return await grouped_by(session, scope, statement, "job_id", job_ids=job_ids)


async def membership_of(session: RequestSession, scope: Scope,
                        person_id: uuid.UUID) -> tuple[bool, bool]:
    """(is a staff member, is an external user) of the scope's organization."""
    staff = await session.scalar(select(staff_members.c.id).where(
        staff_members.c.organization_id == scope.organization_id,
        staff_members.c.person_id == person_id))
    external = await session.scalar(select(models.ExternalUser.id).where(
        models.ExternalUser.organization_id == scope.organization_id,
        models.ExternalUser.person_id == person_id))
    return staff is not None, external is not None


@dataclass(frozen=True, slots=True)
class HereByEmail:
    """An email's memberships in one organization (the organization's own data)."""

    is_staff: bool
    external_user_id: uuid.UUID | None
    external_access_revoked: bool


async def here_by_email(session: RequestSession, scope: Scope, email_key: str) -> HereByEmail:
    """ONE statement whatever the email: whether it has an account elsewhere changes neither
    the answer nor the work (an admin's timing says nothing about other organizations)."""
    person = persons.c.email_normalized == email_key
    staff_here = exists(select(1).select_from(staff_members.join(
        persons, persons.c.id == staff_members.c.person_id)).where(
        visible(scope, staff_members), person))
    external_here = (select(external_users.c.id, external_users.c.access_revoked_at)
                     .join_from(external_users, persons,
                                persons.c.id == external_users.c.person_id)
                     .where(visible(scope, external_users), person).subquery())
    row = (await session.execute(select(
        staff_here.label("is_staff"),
        select(external_here.c.id).scalar_subquery().label("external_user_id"),
        select(external_here.c.access_revoked_at).scalar_subquery().label("revoked_at"),
    ))).one()
    return HereByEmail(bool(row.is_staff), row.external_user_id, row.revoked_at is not None)


@runs_in(SystemContext.CLI)
async def organization_of_staff_email(session: RequestSession, email_key: str) -> uuid.UUID | None:
    """An organization where this email is staff, whichever (the operator's seeding asks,
    across organizations, in the CLI system context)."""
    return await session.scalar(
        select(staff_members.c.organization_id)
        .join_from(staff_members, persons, persons.c.id == staff_members.c.person_id)
        .where(persons.c.email_normalized == email_key).limit(1))


async def insert_staff(session: RequestSession, scope: Scope,
                       person_id: uuid.UUID, role: models.Role) -> uuid.UUID:
    staff_id = models.new_id()
    await session.execute(insert(staff_members).values(
        organization_id=scope.organization_id, id=staff_id, person_id=person_id, role=role))
    return staff_id


ACTIVE_ADMIN = (staff_members.c.role == models.Role.ADMIN) & staff_members.c.deactivated_at.is_(
    None)


async def lock_admins_and(session: RequestSession, scope: Scope,
                          staff_member_id: uuid.UUID) -> list[Row[Any]]:
    """The organization's active admins and the given member, locked in id order until the
    end of the transaction: two admins demoting each other at once are serialised here, and
    the second sees the first's change (PostgreSQL re-checks a locked row's condition)."""
    return list((await session.execute(
        select(staff_members.c.id, staff_members.c.role, staff_members.c.deactivated_at,
               staff_members.c.person_id)
        .where(visible(scope, staff_members),
               ACTIVE_ADMIN | (staff_members.c.id == staff_member_id))
        .order_by(staff_members.c.id).with_for_update())).all())


async def set_role(session: RequestSession, scope: Scope, staff_member_id: uuid.UUID,
                   role: models.Role) -> None:
    await session.execute(update(staff_members).where(
        visible(scope, staff_members), staff_members.c.id == staff_member_id).values(role=role))


async def set_deactivated(session: RequestSession, scope: Scope, staff_member_id: uuid.UUID,
                          deactivated: bool) -> None:
    await session.execute(update(staff_members).where(
        visible(scope, staff_members), staff_members.c.id == staff_member_id)
        .values(deactivated_at=func.now() if deactivated else None))


async def organization(session: RequestSession, scope: Scope) -> Row[Any] | None:
    """The scope's own organization (an external user's too: it names where they are)."""
    return (await session.execute(
        select(organizations).where(organizations.c.id == scope.organization_id))).first()


async def set_invitation_ttl(session: RequestSession, scope: Scope, days: int) -> Row[Any]:
    return (await session.execute(
        update(organizations).where(organizations.c.id == scope.organization_id)
        .values(invitation_ttl_days=days).returning(*organizations.c))).one()


@runs_in(SystemContext.CLI)
async def insert_organization(session: RequestSession, *, name: str,
                              invitation_ttl_days: int) -> Row[Any]:
    return (await session.execute(insert(organizations).values(
        id=models.new_id(), name=name, invitation_ttl_days=invitation_ttl_days)
        .returning(*organizations.c))).one()
