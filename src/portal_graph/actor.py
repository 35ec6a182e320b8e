"""Who makes a change: the person behind it and where the request came from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from portal_graph.scope import Viewer


@dataclass(frozen=True, slots=True)
class Actor:
    """The person behind a change and where the request came from (for the audit log and the
    events a change publishes)."""

    person_id: uuid.UUID | None
    client_address: str | None
    staff_member_id: uuid.UUID | None = None
    name: str | None = None

    @classmethod
    def of(cls, viewer: Viewer, client_address: str | None) -> Actor:
        return cls(person_id=viewer.person_id, client_address=client_address,
                   staff_member_id=viewer.staff_member_id, name=viewer.name or viewer.email)
