"""The kinds of domain events, and the event itself as it travels (ids only)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any

import orjson


class EventKind(enum.StrEnum):
    JOB_CREATED = "job.created"
    JOB_UPDATED = "job.updated"  # any change to a job, a completion included
    JOB_COMPLETED = "job.completed"  # its status became COMPLETED (also a job.updated)
    MAP_CAPTURE_CREATED = "map_capture.created"
    MAP_CAPTURE_UPDATED = "map_capture.updated"
    MAP_CAPTURE_DELETED = "map_capture.deleted"
    ASSET_UPDATED = "asset.updated"
    CUSTOMER_UPDATED = "customer.updated"
    INVITATION_UPDATED = "invitation.updated"  # status or email delivery changed
    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_EMAIL_FAILED = "invitation.email_failed"
    EXTERNAL_USER_UPDATED = "external_user.updated"  # grants or status changed
    EXTERNAL_USER_ACCESS_REVOKED = "external_user.access_revoked"


@dataclass(frozen=True, slots=True)
class Event:
    """One committed change: its position (the event's id, increasing), its organization, what
    happened, to which row, and the customer that row belongs to (for scope checks), if any."""

    position: int
    organization_id: uuid.UUID
    kind: EventKind
    subject_type: str  # the GraphQL type name of the subject: "Job", "Invitation", ...
    subject_id: uuid.UUID
    customer_id: uuid.UUID | None = None

    def to_notification(self) -> str:
        return orjson.dumps({"p": self.position, "o": str(self.organization_id),
                             "k": self.kind.value, "t": self.subject_type,
                             "s": str(self.subject_id),
                             "c": str(self.customer_id) if self.customer_id else None}).decode()

    @classmethod
    def from_notification(cls, payload: str) -> Event:
        raw: dict[str, Any] = orjson.loads(payload)
        return cls(position=int(raw["p"]), organization_id=uuid.UUID(raw["o"]),
                   kind=EventKind(raw["k"]), subject_type=str(raw["t"]),
                   subject_id=uuid.UUID(raw["s"]),
                   customer_id=uuid.UUID(raw["c"]) if raw.get("c") else None)
