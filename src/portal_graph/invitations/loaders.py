"""Per-request loaders for invitations, their customers and their email delivery status."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy.engine import Row

from portal_graph.db import models
from portal_graph.graphql.core.loaders import ScopedLoader
from portal_graph.invitations import repository as repo
from portal_graph.mail import outbox


class InvitationByIdLoader(ScopedLoader):
    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[Row[Any] | None]:
        found = await repo.by_ids(self.session, self.scope, keys)  # type: ignore[arg-type]
        return [found.get(key) for key in keys]  # type: ignore[call-overload]


class CustomersByInvitationLoader(ScopedLoader):
    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[list[Row[Any]]]:
        grouped = await repo.customers_by_invitations(self.session, self.scope,
                                                      keys)  # type: ignore[arg-type]
        return [grouped[key] for key in keys]  # type: ignore[index]


class PendingInvitationsByCustomerLoader(ScopedLoader):
    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[list[Row[Any]]]:
        grouped = await repo.pending_by_customers(self.session, self.scope,
                                                  keys)  # type: ignore[arg-type]
        return [grouped[key] for key in keys]  # type: ignore[index]


class EmailStatusByInvitationLoader(ScopedLoader):
    """The delivery status of each invitation's newest email; None when it has none."""

    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[models.OutboxStatus | None]:
        if self.scope.external:
            return [None for _ in keys]
        found = await outbox.latest_status_by_invitation(
            self.session, self.scope.organization_id, list(keys))  # type: ignore[arg-type]
        return [found.get(key) for key in keys]  # type: ignore[call-overload]
