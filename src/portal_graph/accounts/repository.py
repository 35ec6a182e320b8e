"""SQL for staff members, persons and organization settings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, insert, select, update
from sqlalchemy.engine import Row

from portal_graph.db import models, shapes
from portal_graph.db.session import RequestSession
from portal_graph.scope import Scope, visible

staff_members = models.table_of(models.StaffMember)
persons = models.table_of(models.Person)
organizations = models.table_of(models.Organization)
job_assignments = models.table_of(models.JobAssignment)
_SHAPES = shapes.Shapes()


def staff_listing(scope: Scope) -> Select[Any]:
    return (select(staff_members, persons.c.email, persons.c.name)
            .join_from(staff_members, persons, persons.c.id == staff_members.c.person_id)
            .where(visible(scope, staff_members)))


async def staff_by_ids(session: RequestSession, scope: Scope,
                       ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
    statement = _SHAPES.get(scope, ("staff_by_ids",), lambda: staff_listing(scope).where(
        shapes.one_of(staff_members.c.id, "ids")))
    rows = await shapes.execute(session, statement, scope, ids=list(ids))
    return {row.id: row for row in rows.all()}


async def staff_by_jobs(session: RequestSession, scope: Scope,
                        job_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Row[Any]]]:
    statement = _SHAPES.get(scope, ("staff_by_jobs",), lambda: (
        staff_listing(scope).add_columns(job_assignments.c.job_id.label("job_id"))
        .join(job_assignments,
              (job_assignments.c.organization_id == staff_members.c.organization_id)
              & (job_assignments.c.staff_member_id == staff_members.c.id))
        .where(shapes.one_of(job_assignments.c.job_id, "job_ids"))
        .order_by(persons.c.name, staff_members.c.id)))
    grouped: dict[uuid.UUID, list[Row[Any]]] = {key: [] for key in job_ids}
    for row in (await shapes.execute(session, statement, scope, job_ids=list(job_ids))).all():
        grouped[row.job_id].append(row)
    return grouped


async def person_by_email(session: RequestSession, email_normalized: str) -> Row[Any] | None:
    return (await session.execute(
        select(persons).where(persons.c.email_normalized == email_normalized))).first()


async def insert_person(session: RequestSession, *, email: str, email_normalized: str,
                        name: str | None, password_hash: str | None) -> Row[Any]:
    return (await session.execute(insert(persons).values(
        id=models.new_id(), email=email, email_normalized=email_normalized, name=name,
        password_hash=password_hash).returning(*persons.c))).one()


async def membership_of(session: RequestSession, organization_id: uuid.UUID,
                        person_id: uuid.UUID) -> tuple[bool, bool]:
    """(is a staff member, is an external user) of the organization."""
    staff = await session.scalar(select(staff_members.c.id).where(
        staff_members.c.organization_id == organization_id,
        staff_members.c.person_id == person_id))
    external = await session.scalar(select(models.ExternalUser.id).where(
        models.ExternalUser.organization_id == organization_id,
        models.ExternalUser.person_id == person_id))
    return staff is not None, external is not None


async def insert_staff(session: RequestSession, organization_id: uuid.UUID,
                       person_id: uuid.UUID, role: models.Role) -> uuid.UUID:
    staff_id = models.new_id()
    await session.execute(insert(staff_members).values(
        organization_id=organization_id, id=staff_id, person_id=person_id, role=role))
    return staff_id


async def organization(session: RequestSession, organization_id: uuid.UUID) -> Row[Any] | None:
    return (await session.execute(
        select(organizations).where(organizations.c.id == organization_id))).first()


async def set_invitation_ttl(session: RequestSession, organization_id: uuid.UUID,
                             days: int) -> Row[Any]:
    return (await session.execute(
        update(organizations).where(organizations.c.id == organization_id)
        .values(invitation_ttl_days=days).returning(*organizations.c))).one()


async def insert_organization(session: RequestSession, *, name: str,
                              invitation_ttl_days: int) -> Row[Any]:
    return (await session.execute(insert(organizations).values(
        id=models.new_id(), name=name, invitation_ttl_days=invitation_ttl_days)
        .returning(*organizations.c))).one()
