"""SQL for jobs, assets and map captures. Every read starts from the viewer's scope."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.db.tables import assets, job_assets, job_assignments, jobs, map_captures
from portal_graph.scope import Scope, scoped, visible
from portal_graph.scoped_sql.rows import next_updated_at
from portal_graph.work.geometry import Box


class DuplicateReference(Exception):
    pass


def _listing(scope: Scope, table: Table, **equal_to: Any) -> Select[Any]:
    """The table's visible rows, narrowed to the columns given a value (None: not narrowed)."""
    statement = scoped(scope, table)
    for column, value in equal_to.items():
        if value is not None:
            statement = statement.where(table.c[column] == value)
    return statement


def job_listing(scope: Scope, *, customer_id: uuid.UUID | None = None,
                status: models.JobStatus | None = None) -> Select[Any]:
    return _listing(scope, jobs, customer_id=customer_id, status=status)


def capture_listing(scope: Scope, *, customer_id: uuid.UUID | None = None,
                    job_id: uuid.UUID | None = None, within: Box | None = None) -> Select[Any]:
    statement = _listing(scope, map_captures, customer_id=customer_id, job_id=job_id)
    return statement if within is None else statement.where(inside(within))


BOX_EDGES = ("box_south", "box_west", "box_north", "box_east")


def inside(box: Box) -> ColumnElement[bool]:
    """Captures whose point is in the box: a range of the (organization_id, latitude,
    longitude) index, the longitude checked in the index too (migration 0010). The edges are
    named parameters (`box_values`), so a kept shape serves every box."""
    south, west, north, east = (bindparam(name, value, type_=Float())
                                for name, value in zip(BOX_EDGES, box_values(box).values(),
                                                       strict=True))
    latitude, longitude = map_captures.c.latitude, map_captures.c.longitude
    across = (or_(longitude >= west, longitude <= east) if box.crosses_antimeridian
              else longitude.between(west, east))
    return and_(latitude.between(south, north), across)


def box_values(box: Box | None) -> dict[str, float]:
    if box is None:
        return {}
    return dict(zip(BOX_EDGES, (box.south, box.west, box.north, box.east), strict=True))


def box_switches(box: Box | None) -> tuple[bool, ...]:
    """The shape of a box filter: none, a plain one, one across the antimeridian."""
    return () if box is None else (True, box.crosses_antimeridian)


def asset_listing(scope: Scope, *, customer_id: uuid.UUID | None = None) -> Select[Any]:
    statement = scoped(scope, assets)
    if customer_id is not None:
        statement = statement.where(assets.c.customer_id == customer_id)
    return statement


def assets_with_job(scope: Scope) -> Select[Any]:
    """Visible assets with the id of each job they are linked to (column `job_id`)."""
    return (select(assets, job_assets.c.job_id)
            .join_from(assets, job_assets, (job_assets.c.organization_id
                                            == assets.c.organization_id)
                       & (job_assets.c.asset_id == assets.c.id))
            .where(visible(scope, assets)))


async def insert_job(session: RequestSession, scope: Scope, values: dict[str, Any],
                     asset_ids: Sequence[uuid.UUID],
                     staff_ids: Sequence[uuid.UUID]) -> Row[Any]:
    org = scope.organization_id
    try:
        async with session.begin_nested():
            row = (await session.execute(
                insert(jobs).values(organization_id=org, id=models.new_id(), **values)
                .returning(*jobs.c))).one()
    except IntegrityError as error:
        if "uq_jobs_org_reference" in str(error.orig):
            raise DuplicateReference from error
        raise
    if asset_ids:
        await session.execute(insert(job_assets), [
            {"organization_id": org, "job_id": row.id, "asset_id": a} for a in asset_ids])
    if staff_ids:
        await session.execute(insert(job_assignments), [
            {"organization_id": org, "job_id": row.id, "staff_member_id": s}
            for s in staff_ids])
    return row


async def status_for_update(session: RequestSession, scope: Scope,
                            job_id: uuid.UUID) -> models.JobStatus | None:
    """The job's status, its row locked until the transaction ends (None: no such job)."""
    return await session.scalar(select(jobs.c.status)  # type: ignore[no-any-return]
                                .where(visible(scope, jobs), jobs.c.id == job_id)
                                .with_for_update())


async def update_job_status(session: RequestSession, scope: Scope, job_id: uuid.UUID,
                            status: models.JobStatus) -> Row[Any] | None:
    completed_at = (func.coalesce(jobs.c.completed_at, func.now())
                    if status is models.JobStatus.COMPLETED else None)
    return (await session.execute(
        update(jobs).where(visible(scope, jobs), jobs.c.id == job_id)
        .values(status=status, completed_at=completed_at, updated_at=next_updated_at(jobs))
        .returning(*jobs.c))).first()


async def assigned_staff(session: RequestSession, scope: Scope,
                         job_id: uuid.UUID) -> set[uuid.UUID]:
    return set((await session.execute(
        select(job_assignments.c.staff_member_id)
        .where(visible(scope, job_assignments), job_assignments.c.job_id == job_id))).scalars())


async def replace_assignments(session: RequestSession, scope: Scope, job_id: uuid.UUID,
                              removed: set[uuid.UUID], added: set[uuid.UUID]) -> None:
    if removed:
        await session.execute(delete(job_assignments).where(
            visible(scope, job_assignments), job_assignments.c.job_id == job_id,
            job_assignments.c.staff_member_id.in_(sorted(removed))))
    if added:
        await session.execute(insert(job_assignments), [
            {"organization_id": scope.organization_id, "job_id": job_id, "staff_member_id": s}
            for s in sorted(added)])


async def delete_capture(session: RequestSession, scope: Scope,
                         capture_id: uuid.UUID) -> Row[Any] | None:
    return (await session.execute(
        delete(map_captures).where(visible(scope, map_captures), map_captures.c.id == capture_id)
        .returning(*map_captures.c))).first()


async def insert_row(session: RequestSession, scope: Scope, table: Any,
                     values: dict[str, Any]) -> Row[Any]:
    return (await session.execute(
        insert(table).values(organization_id=scope.organization_id, id=models.new_id(),
                             **values).returning(*table.c))).one()
