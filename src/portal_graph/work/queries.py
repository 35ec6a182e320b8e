"""Queries for jobs and map captures."""

from __future__ import annotations

import strawberry

from portal_graph.db import models
from portal_graph.graphql.core.audiences import SIGNED_IN, field
from portal_graph.graphql.core.context import Context, Info
from portal_graph.graphql.core.pagination import DEFAULT_FIRST, Listed, connection_of, listed
from portal_graph.graphql.core.relay import Connection, parse_id
from portal_graph.scoped_sql.pagination import NEWEST_FIRST
from portal_graph.work import loaders, repository
from portal_graph.work.geometry import Box
from portal_graph.work.types import (
    BoundingBox,
    Job,
    JobStatus,
    MapCapture,
    MapCaptureConnection,
)

# A filter on an id that is not a customer's matches nothing (never "no filter").
NOWHERE = repository.models.new_id()


# The pages of `jobs` and `mapCaptures`, for both execution paths (the compiled plans too).
async def job_page(context: Context, first: int | None, after: str | None,
                   customer_id: str | None, status: models.JobStatus | None) -> Listed:
    customer = None if customer_id is None else parse_id(customer_id, "Customer") or NOWHERE
    statement = repository.job_listing(context.scope, customer_id=customer, status=status)
    return await listed(context, statement, NEWEST_FIRST, first, after)


async def capture_page(context: Context, first: int | None, after: str | None,
                       customer_id: str | None, within: Box | None = None) -> Listed:
    customer = None if customer_id is None else parse_id(customer_id, "Customer") or NOWHERE
    statement = repository.capture_listing(context.scope, customer_id=customer, within=within)
    return await listed(context, statement, NEWEST_FIRST, first, after)


@strawberry.type
class WorkQueries:
    @field(audiences=SIGNED_IN, description="Jobs you can see, newest first.")
    async def jobs(self, info: Info, first: int | None = DEFAULT_FIRST, after: str | None = None,
                   customer_id: strawberry.ID | None = None,
                   status: JobStatus | None = None) -> Connection[Job]:  # type: ignore[valid-type]
        found = await job_page(info.context, first, after, customer_id, status)
        return await connection_of(info, found, Job.from_row)

    @field(audiences=SIGNED_IN, description="A job by id; null when not visible.")
    async def job(self, info: Info, id: strawberry.ID) -> Job | None:
        row = await info.context.loaders.by_global_id(loaders.JobByIdLoader, id, "Job")
        return Job.from_row(row) if row else None

    @field(audiences=SIGNED_IN, description=(
        "Map captures you can see, newest first; `within` a map's visible area, those whose "
        "point is inside it (`geoJson` draws a page of them)."))
    async def map_captures(self, info: Info, first: int | None = DEFAULT_FIRST,
                           after: str | None = None,
                           customer_id: strawberry.ID | None = None,
                           within: BoundingBox | None = None) -> MapCaptureConnection:
        found = await capture_page(info.context, first, after, customer_id,
                                   within.box() if within else None)
        return await connection_of(info, found, MapCapture.from_row)  # type: ignore[return-value]
