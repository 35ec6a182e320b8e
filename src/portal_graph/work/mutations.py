"""Staff data entry for jobs, assets and map captures, and their corrections.

A correction (update, delete) leaves omitted input fields as they are and clears a nullable
field sent as null; each takes `expectedUpdatedAt` (optimistic concurrency, see work/updates.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON

from portal_graph.capabilities import EDIT_WORK
from portal_graph.customers.mutations import expected_version
from portal_graph.db import models
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.payloads import given, mutation, payload
from portal_graph.graphql.core.relay import parse_id, to_global_id
from portal_graph.work import service, updates
from portal_graph.work.types import Asset, Job, JobStatus, MapCapture


def _ids(values: list[strawberry.ID] | None, type_name: str) -> list[uuid.UUID | None]:
    return [parse_id(v, type_name) for v in values or []]


@strawberry.input
class CreateAssetInput:
    customer_id: strawberry.ID
    name: str
    kind: str | None = None
    serial_number: str | None = None
    location: str | None = None


@payload
class CreateAssetPayload:
    asset: Asset | None = None


@strawberry.input
class CreateJobInput:
    customer_id: strawberry.ID
    title: str
    reference: str | None = strawberry.field(
        default=None, description="Unique in the organization; generated when omitted.")
    scheduled_for: datetime | None = None
    asset_ids: list[strawberry.ID] | None = None
    internal_notes: str | None = None
    price: Decimal | None = None
    assigned_staff_ids: list[strawberry.ID] | None = None
    status: JobStatus = models.JobStatus.SCHEDULED  # type: ignore[valid-type]


@payload
class CreateJobPayload:
    job: Job | None = None


@strawberry.input
class SetJobStatusInput:
    job_id: strawberry.ID
    status: JobStatus  # type: ignore[valid-type]


@payload
class SetJobStatusPayload:
    job: Job | None = None


@strawberry.input
class CreateMapCaptureInput:
    customer_id: strawberry.ID
    latitude: float
    longitude: float
    job_id: strawberry.ID | None = None
    note: str | None = None
    geometry: JSON | None = strawberry.field(default=None,
                                             description="A GeoJSON geometry object.")
    captured_at: datetime | None = None


@payload
class CreateMapCapturePayload:
    map_capture: MapCapture | None = None


@strawberry.type
class WorkMutations:
    @mutation(payload=CreateAssetPayload, rule=EDIT_WORK, description="Add an asset of a customer.")
    async def create_asset(self, info: Info, input: CreateAssetInput) -> CreateAssetPayload:
        ctx = info.context
        row = await service.create_asset(
            ctx.session, ctx.scope, customer_id=parse_id(input.customer_id, "Customer"),
            name=input.name, kind=input.kind, serial_number=input.serial_number,
            location=input.location)
        return CreateAssetPayload(asset=Asset.from_row(row))

    @mutation(payload=CreateJobPayload, rule=EDIT_WORK, description="Add a job for a customer.")
    async def create_job(self, info: Info, input: CreateJobInput) -> CreateJobPayload:
        row = await info.context.act(
            service.create_job, customer_id=parse_id(input.customer_id, "Customer"),
            title=input.title, reference=input.reference, scheduled_for=input.scheduled_for,
            asset_ids=_ids(input.asset_ids, "Asset"), internal_notes=input.internal_notes,
            price=input.price, assigned_staff_ids=_ids(input.assigned_staff_ids, "StaffMember"),
            status=input.status)
        return CreateJobPayload(job=Job.from_row(row))

    @mutation(payload=SetJobStatusPayload,
              rule=EDIT_WORK, description="Move a job to another status.")
    async def set_job_status(self, info: Info, input: SetJobStatusInput) -> SetJobStatusPayload:
        ctx = info.context
        row = await service.set_job_status(ctx.session, ctx.scope,
                                           job_id=parse_id(input.job_id, "Job"),
                                           status=input.status)
        return SetJobStatusPayload(job=Job.from_row(row))

    @mutation(payload=CreateMapCapturePayload,
              rule=EDIT_WORK, description="Record a map capture, optionally for a job.")
    async def create_map_capture(self, info: Info,
                                 input: CreateMapCaptureInput) -> CreateMapCapturePayload:
        row = await info.context.act(
            service.create_map_capture, customer_id=parse_id(input.customer_id, "Customer"),
            job_id=parse_id(input.job_id, "Job"), job_given=input.job_id is not None,
            latitude=input.latitude, longitude=input.longitude, note=input.note,
            geometry=input.geometry, captured_at=input.captured_at)
        return CreateMapCapturePayload(map_capture=MapCapture.from_row(row))


# Corrections: update and delete, each checked against the version the client read.


@strawberry.input
class UpdateJobInput:
    job_id: strawberry.ID
    title: str | None = strawberry.UNSET
    scheduled_for: datetime | None = strawberry.UNSET
    internal_notes: str | None = strawberry.UNSET
    price: Decimal | None = strawberry.UNSET
    assigned_staff_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="The whole list: it replaces the assigned staff.")
    expected_updated_at: datetime | None = expected_version()


@payload
class UpdateJobPayload:
    job: Job | None = None


@strawberry.input
class UpdateAssetInput:
    asset_id: strawberry.ID
    name: str | None = strawberry.UNSET
    kind: str | None = strawberry.UNSET
    serial_number: str | None = strawberry.UNSET
    location: str | None = strawberry.UNSET
    expected_updated_at: datetime | None = expected_version()


@payload
class UpdateAssetPayload:
    asset: Asset | None = None


@strawberry.input
class UpdateMapCaptureInput:
    map_capture_id: strawberry.ID
    latitude: float | None = strawberry.UNSET
    longitude: float | None = strawberry.UNSET
    note: str | None = strawberry.UNSET
    geometry: JSON | None = strawberry.field(default=strawberry.UNSET,
                                             description="A GeoJSON geometry object.")
    job_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="A job of the same customer; null: no job.")
    expected_updated_at: datetime | None = expected_version()


@payload
class UpdateMapCapturePayload:
    map_capture: MapCapture | None = None


@strawberry.input
class DeleteMapCaptureInput:
    map_capture_id: strawberry.ID
    expected_updated_at: datetime | None = expected_version()


@payload
class DeleteMapCapturePayload:
    deleted_map_capture_id: strawberry.ID | None = None


@strawberry.type
class WorkUpdateMutations:
    @mutation(payload=UpdateJobPayload, rule=EDIT_WORK, description=(
        "Correct a job: title, schedule, internal notes, price, assigned staff. Its status "
        "moves with `setJobStatus`."))
    async def update_job(self, info: Info, input: UpdateJobInput) -> UpdateJobPayload:
        changes = given(input, "title", "scheduled_for", "internal_notes", "price")
        if input.assigned_staff_ids is not strawberry.UNSET:
            changes["assigned_staff_ids"] = [parse_id(i, "StaffMember")
                                             for i in input.assigned_staff_ids or []]
        row = await info.context.act(
            updates.update_job, job_id=parse_id(input.job_id, "Job"), changes=changes,
            expected_updated_at=input.expected_updated_at)
        return UpdateJobPayload(job=Job.from_row(row))

    @mutation(payload=UpdateAssetPayload,
              rule=EDIT_WORK, description="Correct an asset; omitted fields stay as they are.")
    async def update_asset(self, info: Info, input: UpdateAssetInput) -> UpdateAssetPayload:
        row = await info.context.act(
            updates.update_asset, asset_id=parse_id(input.asset_id, "Asset"),
            changes=given(input, "name", "kind", "serial_number", "location"),
            expected_updated_at=input.expected_updated_at)
        return UpdateAssetPayload(asset=Asset.from_row(row))

    @mutation(payload=UpdateMapCapturePayload, rule=EDIT_WORK, description=(
        "Correct a map capture: position, shape, note, or the job it belongs to."))
    async def update_map_capture(self, info: Info,
                                 input: UpdateMapCaptureInput) -> UpdateMapCapturePayload:
        changes = given(input, "latitude", "longitude", "note", "geometry")
        job_given = input.job_id is not strawberry.UNSET and input.job_id is not None
        if input.job_id is not strawberry.UNSET:
            changes["job_id"] = parse_id(input.job_id, "Job")
        row = await info.context.act(
            updates.update_map_capture,
            capture_id=parse_id(input.map_capture_id, "MapCapture"), changes=changes,
            job_given=job_given, expected_updated_at=input.expected_updated_at)
        return UpdateMapCapturePayload(map_capture=MapCapture.from_row(row))

    @mutation(payload=DeleteMapCapturePayload,
              rule=EDIT_WORK, description="Delete a map capture (the audit log keeps it).")
    async def delete_map_capture(self, info: Info,
                                 input: DeleteMapCaptureInput) -> DeleteMapCapturePayload:
        row = await info.context.act(
            updates.delete_map_capture, capture_id=parse_id(input.map_capture_id, "MapCapture"),
            expected_updated_at=input.expected_updated_at)
        return DeleteMapCapturePayload(
            deleted_map_capture_id=strawberry.ID(to_global_id("MapCapture", row.id)))
