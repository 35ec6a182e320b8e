"""Rules for customers."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from portal_graph.customers import repository
from portal_graph.db.session import RequestSession
from portal_graph.problems import invalid
from portal_graph.scope import Scope

MAX_NAME = 200


def clean_name(name: str, field: str = "name") -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise invalid("Name must not be empty.", field)
    if len(cleaned) > MAX_NAME:
        raise invalid(f"Name must be at most {MAX_NAME} characters.", field)
    return cleaned


async def create_customer(session: RequestSession, scope: Scope, *, name: str) -> Row[Any]:
    return await repository.create(session, scope, name=clean_name(name))
