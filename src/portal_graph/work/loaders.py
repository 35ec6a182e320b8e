"""Per-request loaders for jobs, assets and map captures, nested connections batched."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from sqlalchemy import Select

from portal_graph.db import models
from portal_graph.graphql.core.loaders import CountByParentLoader, PageByParentLoader, RowByIdLoader
from portal_graph.work import repository as repo


class JobByIdLoader(RowByIdLoader):
    table = models.table_of(models.Job)


class AssetByIdLoader(RowByIdLoader):
    table = models.table_of(models.Asset)


class MapCaptureByIdLoader(RowByIdLoader):
    table = models.table_of(models.MapCapture)


class JobPageByCustomerLoader(PageByParentLoader):
    """args: first, after, status."""

    parent = "customer_id"

    def statement(self) -> Select[Any]:
        status = self.args[2]
        assert status is None or isinstance(status, models.JobStatus)
        return repo.job_listing(self.scope, status=status)


class JobCountByCustomerLoader(CountByParentLoader):
    pages = JobPageByCustomerLoader


class CapturesWithin:
    """args[2]: a Box (`within`), or None; its edges are named parameters of the shape."""

    args: tuple[Any, ...]

    def switches(self) -> tuple[Hashable, ...]:
        return repo.box_switches(self.args[2] if len(self.args) > 2 else None)

    def values(self) -> dict[str, Any]:
        return repo.box_values(self.args[2] if len(self.args) > 2 else None)

    def within(self) -> Any:
        return self.args[2] if len(self.args) > 2 else None


class MapCapturePageByCustomerLoader(CapturesWithin, PageByParentLoader):
    """args: first, after, within."""

    parent = "customer_id"

    def statement(self) -> Select[Any]:
        return repo.capture_listing(self.scope, within=self.within())


class MapCaptureCountByCustomerLoader(CountByParentLoader):
    pages = MapCapturePageByCustomerLoader


class MapCapturePageByJobLoader(CapturesWithin, PageByParentLoader):
    """args: first, after, within."""

    parent = "job_id"

    def statement(self) -> Select[Any]:
        return repo.capture_listing(self.scope, within=self.within())


class MapCaptureCountByJobLoader(CountByParentLoader):
    pages = MapCapturePageByJobLoader


class AssetPageByCustomerLoader(PageByParentLoader):
    parent = "customer_id"
    listing = repo.asset_listing


class AssetCountByCustomerLoader(CountByParentLoader):
    pages = AssetPageByCustomerLoader


class AssetPageByJobLoader(PageByParentLoader):
    parent = "job_id"
    listing = repo.assets_with_job


class AssetCountByJobLoader(CountByParentLoader):
    pages = AssetPageByJobLoader
