"""Staff corrections to the work: update jobs, assets and map captures, delete captures.

Omitted input fields stay as they are; a nullable field sent as null is cleared. Each input
takes `expectedUpdatedAt` (optimistic concurrency, see work/updates.py).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON

from portal_graph.actor import Actor
from portal_graph.capabilities import EDIT_WORK
from portal_graph.customers.mutations import EXPECTED_UPDATED_AT
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.payloads import given, mutation, payload
from portal_graph.graphql.core.relay import parse_id, to_global_id
from portal_graph.work import updates
from portal_graph.work.types import Asset, Job, MapCapture


def _expected() -> datetime | None:
    return strawberry.field(default=None, description=EXPECTED_UPDATED_AT)


@strawberry.input
class UpdateJobInput:
    job_id: strawberry.ID
    title: str | None = strawberry.UNSET
    scheduled_for: datetime | None = strawberry.UNSET
    internal_notes: str | None = strawberry.UNSET
    price: Decimal | None = strawberry.UNSET
    assigned_staff_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="The whole list: it replaces the assigned staff.")
    expected_updated_at: datetime | None = _expected()


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
    expected_updated_at: datetime | None = _expected()


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
    expected_updated_at: datetime | None = _expected()


@payload
class UpdateMapCapturePayload:
    map_capture: MapCapture | None = None


@strawberry.input
class DeleteMapCaptureInput:
    map_capture_id: strawberry.ID
    expected_updated_at: datetime | None = _expected()


@payload
class DeleteMapCapturePayload:
    deleted_map_capture_id: strawberry.ID | None = None


@strawberry.type
class WorkUpdateMutations:
    @mutation(payload=UpdateJobPayload, rule=EDIT_WORK, description=(
        "Correct a job: title, schedule, internal notes, price, assigned staff. Its status "
        "moves with `setJobStatus`."))
    async def update_job(self, info: Info, input: UpdateJobInput) -> UpdateJobPayload:
        ctx = info.context
        changes = given(input, "title", "scheduled_for", "internal_notes", "price")
        if input.assigned_staff_ids is not strawberry.UNSET:
            changes["assigned_staff_ids"] = [parse_id(i, "StaffMember")
                                             for i in input.assigned_staff_ids or []]
        row = await updates.update_job(
            ctx.session, ctx.scope, Actor.of(ctx.viewer, ctx.client_address),
            job_id=parse_id(input.job_id, "Job"), changes=changes,
            expected_updated_at=input.expected_updated_at)
        return UpdateJobPayload(job=Job.from_row(row))

    @mutation(payload=UpdateAssetPayload,
              rule=EDIT_WORK, description="Correct an asset; omitted fields stay as they are.")
    async def update_asset(self, info: Info, input: UpdateAssetInput) -> UpdateAssetPayload:
        ctx = info.context
        row = await updates.update_asset(
            ctx.session, ctx.scope, Actor.of(ctx.viewer, ctx.client_address),
            asset_id=parse_id(input.asset_id, "Asset"),
            changes=given(input, "name", "kind", "serial_number", "location"),
            expected_updated_at=input.expected_updated_at)
        return UpdateAssetPayload(asset=Asset.from_row(row))

    @mutation(payload=UpdateMapCapturePayload, rule=EDIT_WORK, description=(
        "Correct a map capture: position, shape, note, or the job it belongs to."))
    async def update_map_capture(self, info: Info,
                                 input: UpdateMapCaptureInput) -> UpdateMapCapturePayload:
        ctx = info.context
        changes = given(input, "latitude", "longitude", "note", "geometry")
        job_given = input.job_id is not strawberry.UNSET and input.job_id is not None
        if input.job_id is not strawberry.UNSET:
            changes["job_id"] = parse_id(input.job_id, "Job")
        row = await updates.update_map_capture(
            ctx.session, ctx.scope, Actor.of(ctx.viewer, ctx.client_address),
            capture_id=parse_id(input.map_capture_id, "MapCapture"), changes=changes,
            job_given=job_given, expected_updated_at=input.expected_updated_at)
        return UpdateMapCapturePayload(map_capture=MapCapture.from_row(row))

    @mutation(payload=DeleteMapCapturePayload,
              rule=EDIT_WORK, description="Delete a map capture (the audit log keeps it).")
    async def delete_map_capture(self, info: Info,
                                 input: DeleteMapCaptureInput) -> DeleteMapCapturePayload:
        ctx = info.context
        row = await updates.delete_map_capture(
            ctx.session, ctx.scope, Actor.of(ctx.viewer, ctx.client_address),
            capture_id=parse_id(input.map_capture_id, "MapCapture"),
            expected_updated_at=input.expected_updated_at)
        return DeleteMapCapturePayload(
            deleted_map_capture_id=strawberry.ID(to_global_id("MapCapture", row.id)))
