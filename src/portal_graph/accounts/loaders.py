"""Per-request loaders for staff members."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy.engine import Row

from portal_graph.accounts import repository as repo
from portal_graph.graphql.core.loaders import ScopedLoader


class StaffMemberByIdLoader(ScopedLoader):
    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[Row[Any] | None]:
        found = await repo.staff_by_ids(self.session, self.scope, keys)  # type: ignore[arg-type]
        return [found.get(key) for key in keys]  # type: ignore[call-overload]


class StaffByJobLoader(ScopedLoader):
    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[list[Row[Any]]]:
        grouped = await repo.staff_by_jobs(self.session, self.scope, keys)  # type: ignore[arg-type]
        return [grouped[key] for key in keys]  # type: ignore[index]
