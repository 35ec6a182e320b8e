"""Rules for staff data entry: jobs, assets, map captures."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Row

from portal_graph.actor import Actor
from portal_graph.customers.service import clean_name
from portal_graph.db import models, tables
from portal_graph.db.session import RequestSession
from portal_graph.events import EventKind, publish
from portal_graph.problems import Rejected, UserErrorCode, invalid, not_found
from portal_graph.scope import Scope
from portal_graph.scoped_sql.rows import visible_by_ids
from portal_graph.work import repository as repo
from portal_graph.work.geometry import checked_geometry

MAX_TEXT = 10_000
# Dates a person could mean: year 0001 or 9999 is a typo or a probe, not a job.
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def _sane_date(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not EARLIEST <= moment < LATEST:
        raise invalid("Use a date between 1900 and 2199.", field)
    return value


def _optional_text(value: str | None, field: str, limit: int = 500) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise invalid(f"Use at most {limit} characters.", field)
    return value or None


async def _customer(session: RequestSession, scope: Scope, customer_id: uuid.UUID | None,
                    field: str = "customerId") -> Row[Any]:
    found = await visible_by_ids(session, scope, tables.customers,
                                    [customer_id] if customer_id else [])
    if customer_id is None or customer_id not in found:
        raise not_found("Customer", field)
    return found[customer_id]


async def create_asset(session: RequestSession, scope: Scope, *, customer_id: uuid.UUID | None,
                       name: str, kind: str | None, serial_number: str | None,
                       location: str | None) -> Row[Any]:
    await _customer(session, scope, customer_id)
    return await repo.insert_row(session, scope, repo.assets, {
        "customer_id": customer_id, "name": clean_name(name),
        "kind": _optional_text(kind, "kind"),
        "serial_number": _optional_text(serial_number, "serialNumber"),
        "location": _optional_text(location, "location"),
    })


async def create_job(
    session: RequestSession, scope: Scope, actor: Actor, *, customer_id: uuid.UUID | None,
    title: str, reference: str | None, scheduled_for: datetime | None,
    asset_ids: list[uuid.UUID | None], internal_notes: str | None, price: Decimal | None,
    assigned_staff_ids: list[uuid.UUID | None], status: models.JobStatus,
) -> Row[Any]:
    scheduled_for = _sane_date(scheduled_for, "scheduledFor")
    await _customer(session, scope, customer_id)
    title = clean_name(title, "title")
    reference = _optional_text(reference, "reference", 100) or f"J-{uuid.uuid4().hex[:8].upper()}"
    price = _price(price)
    assets = await visible_by_ids(session, scope, repo.assets,
                                     [a for a in asset_ids if a is not None])
    if len(assets) != len(set(asset_ids)) or any(a is None for a in asset_ids):
        raise not_found("Asset", "assetIds")
    if any(asset.customer_id != customer_id for asset in assets.values()):
        raise invalid("Every asset must belong to the job's customer.", "assetIds")
    staff = await _staff(session, scope, assigned_staff_ids)
    try:
        job = await repo.insert_job(session, scope, {
            "customer_id": customer_id, "title": title, "reference": reference,
            "scheduled_for": scheduled_for, "status": status,
            "completed_at": None, "internal_notes": _optional_text(internal_notes,
                                                                    "internalNotes", MAX_TEXT),
            "price": price, "created_by_id": actor.staff_member_id,
        }, list(assets), staff)
    except repo.DuplicateReference:
        raise Rejected(UserErrorCode.DUPLICATE_REFERENCE,
                       f"A job with reference {reference} already exists.", "reference") from None
    await job_changed(session, scope, job, EventKind.JOB_CREATED, status_before=None)
    if job.status is models.JobStatus.COMPLETED:  # its completedAt, as setJobStatus sets it
        job = await set_job_status(session, scope, job_id=job.id, status=job.status)
    return job


async def job_changed(session: RequestSession, scope: Scope, job: Row[Any], kind: EventKind, *,
                      status_before: models.JobStatus | None) -> None:
    """Tell of a new (`status_before` None) or changed job; one that has just become
    COMPLETED is also a job.completed. Every job event is published here."""
    await publish(session, scope, kind, "Job", job.id, customer_id=job.customer_id)
    done = models.JobStatus.COMPLETED
    if job.status is done and status_before is not done:
        await publish(session, scope, EventKind.JOB_COMPLETED, "Job", job.id,
                      customer_id=job.customer_id)


def _price(price: Decimal | None) -> Decimal | None:
    if price is not None and (not price.is_finite() or price < 0 or price >= Decimal(10) ** 10):
        raise invalid("Price must be a non-negative amount below 10,000,000,000.", "price")
    return price


async def _staff(session: RequestSession, scope: Scope,
                 ids: list[uuid.UUID | None]) -> list[uuid.UUID]:
    wanted = {i for i in ids if i is not None}
    found = await visible_by_ids(session, scope, tables.staff_members, list(wanted))
    if len(found) != len(wanted) or any(i is None for i in ids):
        raise not_found("Staff member", "assignedStaffIds")
    return sorted(wanted)


async def set_job_status(session: RequestSession, scope: Scope, *, job_id: uuid.UUID | None,
                         status: models.JobStatus) -> Row[Any]:
    before = await repo.status_for_update(session, scope, job_id) if job_id else None
    row = await repo.update_job_status(session, scope, job_id, status) if job_id else None
    if row is None:
        raise not_found("Job", "jobId")
    if before is not status:  # setting the status it has changes nothing
        await job_changed(session, scope, row, EventKind.JOB_UPDATED, status_before=before)
    return row


def _coordinate(value: float, low: float, high: float, field: str) -> float:
    if not math.isfinite(value) or not low <= value <= high:
        raise invalid(f"{field} must be between {low:g} and {high:g}.", field)
    return value


async def create_map_capture(
    session: RequestSession, scope: Scope, actor: Actor, *, customer_id: uuid.UUID | None,
    job_id: uuid.UUID | None, job_given: bool, latitude: float, longitude: float,
    note: str | None, geometry: Any, captured_at: datetime | None,
) -> Row[Any]:
    captured_at = _sane_date(captured_at, "capturedAt")
    await _customer(session, scope, customer_id)
    if job_given:
        found = await visible_by_ids(session, scope, repo.jobs, [job_id] if job_id else [])
        if job_id is None or job_id not in found:
            raise not_found("Job", "jobId")
        if found[job_id].customer_id != customer_id:
            raise invalid("The job belongs to another customer.", "jobId")
    values: dict[str, Any] = {
        "customer_id": customer_id, "job_id": job_id,
        "latitude": _coordinate(latitude, -90, 90, "latitude"),
        "longitude": _coordinate(longitude, -180, 180, "longitude"),
        "note": _optional_text(note, "note", MAX_TEXT), "geometry": checked_geometry(geometry),
        "captured_by_id": actor.staff_member_id,
    }
    if captured_at is not None:
        values["captured_at"] = captured_at
    capture = await repo.insert_row(session, scope, repo.map_captures, values)
    await publish(session, scope, EventKind.MAP_CAPTURE_CREATED, "MapCapture", capture.id,
                  customer_id=customer_id)
    return capture
