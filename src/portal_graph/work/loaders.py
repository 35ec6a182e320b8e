"""Per-request loaders for jobs, assets and map captures, nested connections batched."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from sqlalchemy import Select

from portal_graph.db import models, tables
from portal_graph.graphql.core.loaders import CountByParentLoader, PageByParentLoader, RowByIdLoader
from portal_graph.work import repository as repo

JobByIdLoader = RowByIdLoader.of(tables.jobs)
AssetByIdLoader = RowByIdLoader.of(tables.assets)
MapCaptureByIdLoader = RowByIdLoader.of(tables.map_captures)


class JobPageByCustomerLoader(PageByParentLoader):
    """args: first, after, status."""

    parent = "customer_id"

    def statement(self) -> Select[Any]:
        status = self.args[2]
        assert status is None or isinstance(status, models.JobStatus)
        return repo.job_listing(self.scope, status=status)


JobCountByCustomerLoader = CountByParentLoader.of(JobPageByCustomerLoader)


class MapCapturePages(PageByParentLoader):
    """args: first, after, within (a Box, or None); its edges are named parameters of the
    shape."""

    def within(self) -> Any:
        return self.args[2] if len(self.args) > 2 else None

    def switches(self) -> tuple[Hashable, ...]:
        return repo.box_switches(self.within())

    def values(self) -> dict[str, Any]:
        return repo.box_values(self.within())

    def statement(self) -> Select[Any]:
        return repo.capture_listing(self.scope, within=self.within())


class MapCapturePageByCustomerLoader(MapCapturePages):
    parent = "customer_id"


class MapCapturePageByJobLoader(MapCapturePages):
    parent = "job_id"


MapCaptureCountByCustomerLoader = CountByParentLoader.of(MapCapturePageByCustomerLoader)
MapCaptureCountByJobLoader = CountByParentLoader.of(MapCapturePageByJobLoader)
AssetPageByCustomerLoader = PageByParentLoader.of("customer_id", repo.asset_listing)
AssetCountByCustomerLoader = CountByParentLoader.of(AssetPageByCustomerLoader)
AssetPageByJobLoader = PageByParentLoader.of("job_id", repo.assets_with_job)
AssetCountByJobLoader = CountByParentLoader.of(AssetPageByJobLoader)
