"""Per-request loaders for external users and their granted customers."""

from __future__ import annotations

from portal_graph.external_users import repository as repo
from portal_graph.graphql.core.loaders import GroupedByParentLoader, ListingByIdLoader

ExternalUserByIdLoader = ListingByIdLoader.of(repo.by_ids)
CustomersByExternalUserLoader = GroupedByParentLoader.of(repo.customers_by_external_users)
# A customer's active external users (those granted it), by email.
ExternalUsersByCustomerLoader = GroupedByParentLoader.of(repo.by_customers)
