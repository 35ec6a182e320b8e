"""Per-request loaders for external users and their granted customers."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy.engine import Row

from portal_graph.external_users import repository as repo
from portal_graph.graphql.core.loaders import ScopedLoader


class ExternalUserByIdLoader(ScopedLoader):
    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[Row[Any] | None]:
        found = await repo.by_ids(self.session, self.scope, keys)  # type: ignore[arg-type]
        return [found.get(key) for key in keys]  # type: ignore[call-overload]


class CustomersByExternalUserLoader(ScopedLoader):
    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[list[Row[Any]]]:
        grouped = await repo.customers_by_external_users(self.session, self.scope,
                                                         keys)  # type: ignore[arg-type]
        return [grouped[key] for key in keys]  # type: ignore[index]


class ExternalUsersByCustomerLoader(ScopedLoader):
    """A customer's active external users (those granted it), by email."""

    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[list[Row[Any]]]:
        grouped = await repo.by_customers(self.session, self.scope, keys)  # type: ignore[arg-type]
        return [grouped[key] for key in keys]  # type: ignore[index]
