"""Bulk rows for performance tests: whole pages of jobs, captures and assets in a few INSERTs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from portal_graph.db import models


async def portal_rows(sessionmaker: async_sessionmaker, organization_id: uuid.UUID,
                      customer_ids: list[uuid.UUID], *, jobs_per_customer: int,
                      captures_per_job: int = 2, assets_per_job: int = 2) -> list[uuid.UUID]:
    """Completed jobs for each customer, each with captures and linked assets; the job ids."""
    now = datetime.now(UTC)
    jobs: list[dict[str, Any]] = []
    captures: list[dict[str, Any]] = []
    assets: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for c, customer_id in enumerate(customer_ids):
        for j in range(jobs_per_customer):
            job_id = models.new_id()
            jobs.append({"organization_id": organization_id, "id": job_id,
                         "customer_id": customer_id, "reference": f"P-{job_id.hex[-12:]}",
                         "title": f"Inspection {c}-{j}", "status": models.JobStatus.COMPLETED,
                         "completed_at": now - timedelta(hours=j)})
            for k in range(captures_per_job):
                captures.append({"organization_id": organization_id, "id": models.new_id(),
                                 "customer_id": customer_id, "job_id": job_id,
                                 "latitude": 51.5 + k / 1000, "longitude": -0.1,
                                 "note": f"Point {k}"})
            for k in range(assets_per_job):
                asset_id = models.new_id()
                assets.append({"organization_id": organization_id, "id": asset_id,
                               "customer_id": customer_id, "name": f"Asset {c}-{j}-{k}",
                               "kind": "Pump"})
                links.append({"organization_id": organization_id, "job_id": job_id,
                              "asset_id": asset_id})
    async with sessionmaker() as session, session.begin():
        for model, rows in ((models.Job, jobs), (models.MapCapture, captures),
                            (models.Asset, assets), (models.JobAsset, links)):
            if rows:
                await session.execute(insert(model), rows)
    return [job["id"] for job in jobs]
