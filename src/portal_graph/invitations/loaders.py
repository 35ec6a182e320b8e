"""Per-request loaders for invitations, their customers and their email delivery status."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from portal_graph.db import models
from portal_graph.graphql.core.loaders import (
    GroupedByParentLoader,
    ListingByIdLoader,
    ScopedLoader,
)
from portal_graph.invitations import repository as repo
from portal_graph.mail import repository as mail_repo

InvitationByIdLoader = ListingByIdLoader.of(repo.by_ids)
CustomersByInvitationLoader = GroupedByParentLoader.of(repo.customers_by_invitations)
PendingInvitationsByCustomerLoader = GroupedByParentLoader.of(repo.pending_by_customers)


class EmailStatusByInvitationLoader(ScopedLoader):
    """The delivery status of each invitation's newest email; None when it has none."""

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[models.OutboxStatus | None]:
        if self.scope.external:
            return [None for _ in keys]
        found = await mail_repo.latest_status_by_invitation(self.session, self.scope, list(keys))
        return [found.get(key) for key in keys]
