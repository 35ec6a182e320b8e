"""Per-request loaders for staff members."""

from __future__ import annotations

from portal_graph.accounts import repository as repo
from portal_graph.graphql.core.loaders import GroupedByParentLoader, ListingByIdLoader


class StaffMemberByIdLoader(ListingByIdLoader):
    fetch = repo.staff_by_ids


class StaffByJobLoader(GroupedByParentLoader):
    fetch = repo.staff_by_jobs
