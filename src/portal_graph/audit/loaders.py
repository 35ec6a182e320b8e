"""Per-request loaders for audit events."""

from __future__ import annotations

from portal_graph.audit import repository as repo
from portal_graph.graphql.core.loaders import ListingByIdLoader

AuditEventByIdLoader = ListingByIdLoader.of(repo.by_ids)
