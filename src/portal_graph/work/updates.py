"""Rules for correcting the work: jobs, assets and map captures, changed or deleted by staff.

Every change takes `changes`, the fields the client gave (by column; a field given as null
clears it), validated exactly as on creation (service.py), and an optional
`expected_updated_at`: the `updatedAt` the client read. When the row has changed since, the
answer is STALE_OBJECT and nothing is written (two admins editing one job do not overwrite each
other). A change that changes nothing writes nothing and tells no one.

What external users can see is audited when it changes; every change is a domain event in the
same transaction (events/), for live subscriptions and webhooks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Row

from portal_graph.actor import Actor
from portal_graph.audit.service import AuditAction, record
from portal_graph.customers.service import clean_name, locked_as_read
from portal_graph.db.session import RequestSession
from portal_graph.events import EventKind, publish
from portal_graph.problems import invalid, not_found
from portal_graph.scope import Scope
from portal_graph.scoped_sql.rows import update_visible, visible_by_ids
from portal_graph.work import repository as repo
from portal_graph.work.geometry import checked_geometry
from portal_graph.work.service import (
    MAX_TEXT,
    _coordinate,
    _optional_text,
    _price,
    _sane_date,
    _staff,
    job_changed,
)

# What external users see of a job (types.py): a change to any of these is audited.
JOB_FIELDS_SEEN_OUTSIDE = {"title", "scheduled_for"}


@dataclass(frozen=True, slots=True)
class _Corrected:
    """A kind of row staff correct, and what it is called where a correction tells of it."""

    table: Table
    what: str  # in userErrors
    id_field: str  # the input field that names one
    subject: str  # its type in events
    key: str  # its id's key in the audit details


JOB = _Corrected(repo.jobs, "Job", "jobId", "Job", "job")
ASSET = _Corrected(repo.assets, "Asset", "assetId", "Asset", "asset")
CAPTURE = _Corrected(repo.map_captures, "Map capture", "mapCaptureId", "MapCapture",
                     "map_capture")


def _required(changes: dict[str, Any], key: str, field: str) -> None:
    if key in changes and changes[key] is None:
        raise invalid(f"{field} cannot be cleared.", field)


async def _locked(session: RequestSession, scope: Scope, kind: _Corrected,
                  row_id: uuid.UUID | None, expected_updated_at: datetime | None) -> Row[Any]:
    return await locked_as_read(session, scope, kind.table, row_id, kind.what, kind.id_field,
                                expected_updated_at)


def _differences(row: Row[Any], values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if getattr(row, k) != v}


async def _write(session: RequestSession, scope: Scope, kind: _Corrected, row: Row[Any],
                 values: dict[str, Any]) -> Row[Any]:
    updated = await update_visible(session, scope, kind.table, row.id, values)
    assert updated is not None  # locked by _locked
    return updated


async def _audit(session: RequestSession, scope: Scope, actor: Actor, kind: _Corrected,
                 row: Row[Any], action: AuditAction, **details: Any) -> None:
    await record(session, scope, actor, action, customer_ids=[row.customer_id],
                 details={kind.key: str(row.id), **details})


async def _tell(session: RequestSession, scope: Scope, actor: Actor, kind: _Corrected,
                row: Row[Any], action: AuditAction, event: EventKind, **details: Any) -> None:
    """Audit a change of `row` (`details` besides its id) and publish it as `event`."""
    await _audit(session, scope, actor, kind, row, action, **details)
    await publish(session, scope, event, kind.subject, row.id, customer_id=row.customer_id)


async def _correct(session: RequestSession, scope: Scope, actor: Actor, kind: _Corrected,
                   row: Row[Any], values: dict[str, Any], action: AuditAction,
                   event: EventKind) -> Row[Any]:
    """Write what `values` change of the locked `row`, audited and published; a change that
    changes nothing writes nothing and tells no one."""
    values = _differences(row, values)
    if not values:
        return row
    updated = await _write(session, scope, kind, row, values)
    await _tell(session, scope, actor, kind, row, action, event, fields=sorted(values))
    return updated


async def update_job(session: RequestSession, scope: Scope, actor: Actor, *,
                     job_id: uuid.UUID | None, changes: dict[str, Any],
                     expected_updated_at: datetime | None) -> Row[Any]:
    """Title, schedule, internal notes, price and assigned staff (the whole list, replaced).
    Its status moves with setJobStatus only, so completing a job stays one action."""
    _required(changes, "title", "title")
    values: dict[str, Any] = {}
    if "title" in changes:
        values["title"] = clean_name(changes["title"], "title")
    if "scheduled_for" in changes:
        values["scheduled_for"] = _sane_date(changes["scheduled_for"], "scheduledFor")
    if "internal_notes" in changes:
        values["internal_notes"] = _optional_text(changes["internal_notes"], "internalNotes",
                                                  MAX_TEXT)
    if "price" in changes:
        values["price"] = _price(changes["price"])
    staff: set[uuid.UUID] | None = None
    if "assigned_staff_ids" in changes:
        staff = set(await _staff(session, scope, list(changes["assigned_staff_ids"] or [])))
    row = await _locked(session, scope, JOB, job_id, expected_updated_at)
    values = _differences(row, values)
    fields = set(values)
    if staff is not None:
        held = await repo.assigned_staff(session, scope, row.id)
        if staff != held:
            await repo.replace_assignments(session, scope, row.id, held - staff, staff - held)
            fields.add("assigned_staff")
    if not fields:
        return row
    updated = await _write(session, scope, JOB, row, values)
    if fields & JOB_FIELDS_SEEN_OUTSIDE:
        await _audit(session, scope, actor, JOB, row, AuditAction.JOB_UPDATED,
                     fields=sorted(fields))
    # Its status does not change here, so it is never a job.completed.
    await job_changed(session, scope, updated, EventKind.JOB_UPDATED, status_before=row.status)
    return updated


async def update_asset(session: RequestSession, scope: Scope, actor: Actor, *,
                       asset_id: uuid.UUID | None, changes: dict[str, Any],
                       expected_updated_at: datetime | None) -> Row[Any]:
    _required(changes, "name", "name")
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = clean_name(changes["name"])
    for key, field in (("kind", "kind"), ("serial_number", "serialNumber"),
                       ("location", "location")):
        if key in changes:
            values[key] = _optional_text(changes[key], field)
    row = await _locked(session, scope, ASSET, asset_id, expected_updated_at)
    return await _correct(session, scope, actor, ASSET, row, values,
                          AuditAction.ASSET_UPDATED, EventKind.ASSET_UPDATED)


async def _capture_values(session: RequestSession, scope: Scope,
                          changes: dict[str, Any]) -> dict[str, Any]:
    _required(changes, "latitude", "latitude")
    _required(changes, "longitude", "longitude")
    values: dict[str, Any] = {}
    if "latitude" in changes:
        values["latitude"] = _coordinate(changes["latitude"], -90, 90, "latitude")
    if "longitude" in changes:
        values["longitude"] = _coordinate(changes["longitude"], -180, 180, "longitude")
    if "note" in changes:
        values["note"] = _optional_text(changes["note"], "note", MAX_TEXT)
    if "geometry" in changes:
        values["geometry"] = checked_geometry(changes["geometry"])
    if "job_id" in changes:
        values["job_id"] = changes["job_id"]
    return values


async def update_map_capture(session: RequestSession, scope: Scope, actor: Actor, *,
                             capture_id: uuid.UUID | None, changes: dict[str, Any],
                             job_given: bool,
                             expected_updated_at: datetime | None) -> Row[Any]:
    """Position, shape, note, and the job it belongs to (null: none). `job_given` says a job id
    was sent at all: one that names no visible job is NOT_FOUND, never "no job"."""
    values = await _capture_values(session, scope, changes)
    row = await _locked(session, scope, CAPTURE, capture_id, expected_updated_at)
    job_id = values.get("job_id")
    if job_given:
        found = await visible_by_ids(session, scope, repo.jobs, [job_id] if job_id else [])
        if job_id is None or job_id not in found:
            raise not_found("Job", "jobId")
        if found[job_id].customer_id != row.customer_id:
            raise invalid("The job belongs to another customer.", "jobId")
    return await _correct(session, scope, actor, CAPTURE, row, values,
                          AuditAction.MAP_CAPTURE_UPDATED, EventKind.MAP_CAPTURE_UPDATED)


async def delete_map_capture(session: RequestSession, scope: Scope, actor: Actor, *,
                             capture_id: uuid.UUID | None,
                             expected_updated_at: datetime | None) -> Row[Any]:
    """Delete a capture for good (a wrong point is not history worth keeping); the audit log
    keeps where it was."""
    row = await _locked(session, scope, CAPTURE, capture_id, expected_updated_at)
    await repo.delete_capture(session, scope, row.id)
    await _tell(session, scope, actor, CAPTURE, row, AuditAction.MAP_CAPTURE_DELETED,
                EventKind.MAP_CAPTURE_DELETED, latitude=row.latitude, longitude=row.longitude,
                job=str(row.job_id) if row.job_id else None)
    return row
