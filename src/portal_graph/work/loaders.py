"""Per-request loaders for jobs, assets and map captures, nested connections batched."""

from __future__ import annotations

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
        return repo.job_listing(self.scope, status=self.args[2])  # type: ignore[arg-type]


class JobCountByCustomerLoader(CountByParentLoader):
    pages = JobPageByCustomerLoader


class MapCapturePageByCustomerLoader(PageByParentLoader):
    parent = "customer_id"

    def statement(self) -> Select[Any]:
        return repo.capture_listing(self.scope)


class MapCaptureCountByCustomerLoader(CountByParentLoader):
    pages = MapCapturePageByCustomerLoader


class MapCapturePageByJobLoader(PageByParentLoader):
    parent = "job_id"

    def statement(self) -> Select[Any]:
        return repo.capture_listing(self.scope)


class MapCaptureCountByJobLoader(CountByParentLoader):
    pages = MapCapturePageByJobLoader


class AssetPageByCustomerLoader(PageByParentLoader):
    parent = "customer_id"

    def statement(self) -> Select[Any]:
        return repo.asset_listing(self.scope)


class AssetCountByCustomerLoader(CountByParentLoader):
    pages = AssetPageByCustomerLoader


class AssetPageByJobLoader(PageByParentLoader):
    parent = "job_id"

    def statement(self) -> Select[Any]:
        return repo.assets_with_job(self.scope)


class AssetCountByJobLoader(CountByParentLoader):
    pages = AssetPageByJobLoader
