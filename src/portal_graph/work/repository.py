"""SQL for jobs, assets and map captures. Every read starts from the viewer's scope."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.scope import Scope, scoped, visible
from portal_graph.scoped_sql.rows import next_updated_at

jobs = models.table_of(models.Job)
assets = models.table_of(models.Asset)
job_assets = models.table_of(models.JobAsset)
map_captures = models.table_of(models.MapCapture)
job_assignments = models.table_of(models.JobAssignment)


class DuplicateReference(Exception):
    pass


def job_listing(scope: Scope, *, customer_id: uuid.UUID | None = None,
                status: models.JobStatus | None = None) -> Select[Any]:
    statement = scoped(scope, jobs)
    if customer_id is not None:
        statement = statement.where(jobs.c.customer_id == customer_id)
    if status is not None:
        statement = statement.where(jobs.c.status == status)
    return statement


def capture_listing(scope: Scope, *, customer_id: uuid.UUID | None = None,
                    job_id: uuid.UUID | None = None) -> Select[Any]:
    statement = scoped(scope, map_captures)
    if customer_id is not None:
        statement = statement.where(map_captures.c.customer_id == customer_id)
    if job_id is not None:
        statement = statement.where(map_captures.c.job_id == job_id)
    return statement


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
