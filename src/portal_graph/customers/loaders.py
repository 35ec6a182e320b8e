"""Per-request loaders for customers."""

from __future__ import annotations

from portal_graph.db import tables
from portal_graph.graphql.core.loaders import RowByIdLoader

CustomerByIdLoader = RowByIdLoader.of(tables.customers)
