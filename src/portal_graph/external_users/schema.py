"""What the external-users domain adds to the schema: root fields and node kinds."""

from __future__ import annotations

from typing import Any

EXTERNAL_USER_QUERIES: tuple[type, ...] = ()
EXTERNAL_USER_MUTATIONS: tuple[type, ...] = ()
# type name -> (strawberry type, its by-id loader, its constructor from a row)
EXTERNAL_USER_NODES: dict[str, tuple[Any, Any, Any]] = {}
