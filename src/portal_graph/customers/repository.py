"""SQL for customers. Every read starts from the viewer's scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, insert
from sqlalchemy.engine import Row

from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.scope import Scope, scoped

customers = models.table_of(models.Customer)


def listing(scope: Scope, search: str | None = None) -> Select[Any]:
    statement = scoped(scope, customers)
    if search:
        statement = statement.where(func.lower(customers.c.name).contains(search.lower(),
                                                                          autoescape=True))
    return statement


async def create(session: RequestSession, scope: Scope, *, name: str) -> Row[Any]:
    row = (await session.execute(
        insert(customers).values(organization_id=scope.organization_id, id=models.new_id(),
                                 name=name).returning(*customers.c))).one()
    return row
