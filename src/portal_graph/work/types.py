"""GraphQL types of the work: jobs, assets, map captures."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from graphql import GraphQLError
from sqlalchemy.engine import Row
from strawberry.scalars import JSON

from portal_graph.capabilities import EDIT_WORK
from portal_graph.customers.loaders import CustomerByIdLoader
from portal_graph.db import models
from portal_graph.graphql.core import pagination
from portal_graph.graphql.core.audiences import SIGNED_IN, STAFF, audience, field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.pagination import DEFAULT_FIRST
from portal_graph.graphql.core.relay import Connection, Node, to_global_id
from portal_graph.work import loaders
from portal_graph.work.geometry import BadBox, Box

if TYPE_CHECKING:
    from portal_graph.accounts.types import StaffMember
    from portal_graph.customers.types import Customer

JobStatus = strawberry.enum(models.JobStatus, name="JobStatus")
CustomerRef = Annotated["Customer", strawberry.lazy("portal_graph.customers.types")]
StaffRef = Annotated["StaffMember", strawberry.lazy("portal_graph.accounts.types")]


async def _customer(info: Info, customer_id: uuid.UUID) -> Customer | None:
    from portal_graph.customers.types import Customer

    row = await info.context.loaders.get(CustomerByIdLoader).load(customer_id)
    return Customer.from_row(row) if row else None


@audience(SIGNED_IN)
@strawberry.type(description="A piece of work done for a customer.")
class Job(Node):
    customer_id: strawberry.Private[uuid.UUID]
    reference: str
    title: str
    status: JobStatus  # type: ignore[valid-type]
    scheduled_for: datetime | None
    completed_at: datetime | None
    internal_notes: str | None = field(audiences=STAFF)
    price: Decimal | None = field(audiences=STAFF)
    updated_at: datetime = field(audiences=STAFF, description=(
        "When it last changed: send it back as `expectedUpdatedAt` with a change."))

    @field(audiences=STAFF, description="Whether you may change this job (`updateJob`).")
    def viewer_can_update(self, info: Info) -> bool:
        return EDIT_WORK.allows(info.context.viewer)

    @field(audiences=SIGNED_IN, guard=False)
    async def customer(self, info: Info) -> CustomerRef:
        # A visible job's customer is always visible (same grant), so this is never null.
        return await _customer(info, self.customer_id)  # type: ignore[return-value]

    # Plain functions, not coroutines: a page loaded ahead answers at once (see pagination).
    @field(audiences=SIGNED_IN, guard=False)
    def map_captures(self, info: Info, first: int | None = DEFAULT_FIRST,
                     after: str | None = None, within: BoundingBox | None = None,
                     ) -> MapCaptureConnection:
        return CAPTURES_OF_JOB.resolve(info, self.db_id, first, after,  # type: ignore[no-any-return]
                                       box_of(within))

    @field(audiences=SIGNED_IN, guard=False)
    def assets(self, info: Info, first: int | None = DEFAULT_FIRST,
               after: str | None = None) -> Connection[Asset]:
        return ASSETS_OF_JOB.resolve(info, self.db_id, first, after)

    @field(audiences=STAFF)
    async def assigned_staff(self, info: Info) -> list[StaffRef]:
        from portal_graph.accounts.loaders import StaffByJobLoader
        from portal_graph.accounts.types import StaffMember

        rows = await info.context.loaders.get(StaffByJobLoader).load(self.db_id)
        return [StaffMember.from_row(row) for row in rows]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Job:
        return cls(db_id=row.id, customer_id=row.customer_id, reference=row.reference,
                   title=row.title, status=row.status, scheduled_for=row.scheduled_for,
                   completed_at=row.completed_at, internal_notes=row.internal_notes,
                   price=row.price, updated_at=row.updated_at)


@audience(SIGNED_IN)
@strawberry.type(description="Equipment or a site feature of a customer, serviced by jobs.")
class Asset(Node):
    customer_id: strawberry.Private[uuid.UUID]
    name: str
    kind: str | None
    serial_number: str | None
    location: str | None
    updated_at: datetime = field(audiences=STAFF, description=(
        "When it last changed: send it back as `expectedUpdatedAt` with a change."))

    @field(audiences=SIGNED_IN, guard=False)
    async def customer(self, info: Info) -> CustomerRef:
        return await _customer(info, self.customer_id)  # type: ignore[return-value]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Asset:
        return cls(db_id=row.id, customer_id=row.customer_id, name=row.name, kind=row.kind,
                   serial_number=row.serial_number, location=row.location,
                   updated_at=row.updated_at)


@audience(SIGNED_IN)
@strawberry.type(description="A point (and optional shape) captured on a map at a site.")
class MapCapture(Node):
    customer_id: strawberry.Private[uuid.UUID]
    job_id: strawberry.Private[uuid.UUID | None]
    captured_by_id: strawberry.Private[uuid.UUID | None]
    captured_at: datetime
    latitude: float
    longitude: float
    geometry: JSON | None = strawberry.field(description="A GeoJSON geometry object.")
    note: str | None
    updated_at: datetime = field(audiences=STAFF, description=(
        "When it last changed: send it back as `expectedUpdatedAt` with a change."))

    @field(audiences=SIGNED_IN, guard=False)
    async def job(self, info: Info) -> Job | None:
        if self.job_id is None:
            return None
        row = await info.context.loaders.get(loaders.JobByIdLoader).load(self.job_id)
        return Job.from_row(row) if row else None

    @field(audiences=SIGNED_IN, guard=False)
    async def customer(self, info: Info) -> CustomerRef:
        return await _customer(info, self.customer_id)  # type: ignore[return-value]

    @field(audiences=STAFF)
    async def captured_by(self, info: Info) -> StaffRef | None:
        from portal_graph.accounts.loaders import StaffMemberByIdLoader
        from portal_graph.accounts.types import StaffMember

        if self.captured_by_id is None:
            return None
        row = await info.context.loaders.get(StaffMemberByIdLoader).load(self.captured_by_id)
        return StaffMember.from_row(row) if row else None

    @classmethod
    def from_row(cls, row: Row[Any]) -> MapCapture:
        return cls(db_id=row.id, customer_id=row.customer_id, job_id=row.job_id,
                   captured_by_id=row.captured_by_id, captured_at=row.captured_at,
                   latitude=row.latitude, longitude=row.longitude, geometry=row.geometry,
                   note=row.note, updated_at=row.updated_at)


@strawberry.input(description=(
    "A map's visible area in WGS 84 degrees (as MapLibre's and Leaflet's getBounds give "
    "it). `west` greater than `east` is an area across the antimeridian."))
class BoundingBox:
    south: float
    west: float
    north: float
    east: float

    def box(self) -> Box:
        try:
            return Box(self.south, self.west, self.north, self.east)
        except BadBox as bad:
            raise GraphQLError(f"Invalid `within`: {bad}",
                               extensions={"code": "BAD_USER_INPUT"}) from None


@audience(SIGNED_IN)
@strawberry.type(name="MapCaptureConnection")
class MapCaptureConnection(Connection[MapCapture]):
    @strawberry.field(description=(
        "The captures of this page as a GeoJSON FeatureCollection, ready for MapLibre or "
        "Leaflet: each Feature's geometry is the capture's shape (or its point), its `id` the "
        "capture's id, its properties `note`, `capturedAt`, `latitude`, `longitude`, "
        "`customerId` and `jobId`."))
    def geo_json(self) -> JSON:  # type: ignore[valid-type]
        return feature_collection(edge.node for edge in self.edges)  # type: ignore[return-value]


def feature_collection(captures: Any) -> dict[str, Any]:
    features = []
    for capture in captures:
        geometry = capture.geometry or {"type": "Point",
                                        "coordinates": [capture.longitude, capture.latitude]}
        features.append({
            "type": "Feature",
            "id": to_global_id("MapCapture", capture.db_id),
            "geometry": geometry,
            "properties": {
                "note": capture.note,
                "capturedAt": capture.captured_at.isoformat(),
                "latitude": capture.latitude,
                "longitude": capture.longitude,
                "customerId": to_global_id("Customer", capture.customer_id),
                "jobId": to_global_id("Job", capture.job_id) if capture.job_id else None,
            },
        })
    return {"type": "FeatureCollection", "features": features}


def box_of(value: Any) -> Box | None:
    """`within` of a nested connection, from its raw GraphQL value (what the look-ahead and
    the direct resolvers read) or its input object."""
    if value is None:
        return None
    if isinstance(value, BoundingBox):
        return value.box()
    try:
        return Box(float(value["south"]), float(value["west"]), float(value["north"]),
                   float(value["east"]))
    except BadBox as bad:
        raise GraphQLError(f"Invalid `within`: {bad}",
                           extensions={"code": "BAD_USER_INPUT"}) from None


def job_status(value: Any) -> models.JobStatus | None:
    """A `JobStatus` argument as the resolvers get it, from its raw GraphQL value."""
    return None if value is None else models.JobStatus(value)


CAPTURES_OF_JOB = pagination.nested_connection(
    "Job", "mapCaptures", loaders.MapCapturePageByJobLoader, loaders.MapCaptureCountByJobLoader,
    MapCapture.from_row, filters=(("within", box_of),))
ASSETS_OF_JOB = pagination.nested_connection(
    "Job", "assets", loaders.AssetPageByJobLoader, loaders.AssetCountByJobLoader, Asset.from_row)
