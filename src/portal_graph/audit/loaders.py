"""Per-request loaders for audit events."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy.engine import Row

from portal_graph.audit import repository as repo
from portal_graph.graphql.core.loaders import ScopedLoader


class AuditEventByIdLoader(ScopedLoader):
    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[Row[Any] | None]:
        found = await repo.by_ids(self.session, self.scope, keys)  # type: ignore[arg-type]
        return [found.get(key) for key in keys]  # type: ignore[call-overload]
