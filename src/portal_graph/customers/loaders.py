"""Per-request loaders for customers."""

from __future__ import annotations

from portal_graph.db import models
from portal_graph.graphql.core.loaders import RowByIdLoader


class CustomerByIdLoader(RowByIdLoader):
    table = models.table_of(models.Customer)
