"""Queries for jobs and map captures."""

from __future__ import annotations

import strawberry

from portal_graph.graphql.core.audiences import SIGNED_IN, field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.pagination import DEFAULT_FIRST, paginate
from portal_graph.graphql.core.relay import Connection, parse_id
from portal_graph.scoped_sql.pagination import NEWEST_FIRST
from portal_graph.work import loaders, repository
from portal_graph.work.types import Job, JobStatus, MapCapture

# A filter on an id that is not a customer's matches nothing (never "no filter").
NOWHERE = repository.models.new_id()


@strawberry.type
class WorkQueries:
    @field(audiences=SIGNED_IN, description="Jobs you can see, newest first.")
    async def jobs(self, info: Info, first: int | None = DEFAULT_FIRST, after: str | None = None,
                   customer_id: strawberry.ID | None = None,
                   status: JobStatus | None = None) -> Connection[Job]:  # type: ignore[valid-type]
        customer = None if customer_id is None else parse_id(customer_id, "Customer") or NOWHERE
        statement = repository.job_listing(info.context.scope, customer_id=customer,
                                           status=status)
        return await paginate(info, statement, NEWEST_FIRST, first, after, Job.from_row)

    @field(audiences=SIGNED_IN, description="A job by id; null when not visible.")
    async def job(self, info: Info, id: strawberry.ID) -> Job | None:
        job_id = parse_id(id, "Job")
        if job_id is None:
            return None
        row = await info.context.loaders.get(loaders.JobByIdLoader).load(job_id)
        return Job.from_row(row) if row else None

    @field(audiences=SIGNED_IN, description="Map captures you can see, newest first.")
    async def map_captures(self, info: Info, first: int | None = DEFAULT_FIRST,
                           after: str | None = None,
                           customer_id: strawberry.ID | None = None) -> Connection[MapCapture]:
        customer = None if customer_id is None else parse_id(customer_id, "Customer") or NOWHERE
        statement = repository.capture_listing(info.context.scope, customer_id=customer)
        return await paginate(info, statement, NEWEST_FIRST, first, after, MapCapture.from_row)
