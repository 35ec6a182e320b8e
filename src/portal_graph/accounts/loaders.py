"""Per-request loaders for staff members."""

from __future__ import annotations

from portal_graph.accounts import repository as repo
from portal_graph.graphql.core.loaders import GroupedByParentLoader, ListingByIdLoader

StaffMemberByIdLoader = ListingByIdLoader.of(repo.staff_by_ids)
StaffByJobLoader = GroupedByParentLoader.of(repo.staff_by_jobs)
