"""SQL for customers. Every read starts from the viewer's scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, insert
from sqlalchemy.engine import Row

from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.db.tables import customers
from portal_graph.scope import Scope, scoped
from portal_graph.scoped_sql import shapes


def listing(scope: Scope, search: bool = False) -> Select[Any]:
    """Customers. With `search`, those whose name contains the parameter `search_pattern`
    (`search_values`), ignoring case."""
    statement = scoped(scope, customers)
    if search:
        statement = statement.where(shapes.contains(func.lower(customers.c.name),
                                                    "search_pattern"))
    return statement


def search_values(search: str | None) -> dict[str, Any]:
    return {"search_pattern": shapes.like_pattern(search.lower())} if search else {}


async def create(session: RequestSession, scope: Scope, *, name: str) -> Row[Any]:
    row = (await session.execute(
        insert(customers).values(organization_id=scope.organization_id, id=models.new_id(),
                                 name=name).returning(*customers.c))).one()
    return row
