"""Per-request loaders for external users and their granted customers."""

from __future__ import annotations

from portal_graph.external_users import repository as repo
from portal_graph.graphql.core.loaders import GroupedByParentLoader, ListingByIdLoader


class ExternalUserByIdLoader(ListingByIdLoader):
    fetch = repo.by_ids


class CustomersByExternalUserLoader(GroupedByParentLoader):
    fetch = repo.customers_by_external_users


class ExternalUsersByCustomerLoader(GroupedByParentLoader):
    """A customer's active external users (those granted it), by email."""

    fetch = repo.by_customers
