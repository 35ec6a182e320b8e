"""Secrets, payloads and signatures per the Standard Webhooks spec (standardwebhooks package).

Headers: `webhook-id` (the delivery's id, the same on every attempt, for deduplication),
`webhook-timestamp` (seconds), `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.
body>`). Secrets are `whsec_` + base64 of 24 random bytes. Payloads are small and carry global
ids: the receiver fetches the rest with its own credentials, and so through its own scope.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any

import orjson
from standardwebhooks import Webhook


def to_global_id(type_name: str, id_: Any) -> str:
    """The API's opaque global id (graphql/core/relay.py encodes the same), without importing
    GraphQL here: the service and the worker stay below it."""
    return base64.urlsafe_b64encode(f"{type_name}:{id_}".encode()).decode().rstrip("=")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def payload(kind: str, subject_type: str, subject_id: Any, customer_id: Any,
            occurred_at: datetime) -> str:
    data: dict[str, Any] = {"id": to_global_id(subject_type, subject_id)}
    if customer_id is not None:
        data["customerId"] = to_global_id("Customer", customer_id)
    return orjson.dumps({"type": kind, "timestamp": occurred_at.astimezone(UTC).isoformat(),
                         "data": data}).decode()


def headers(secret: str, message_id: str, body: str, now: datetime | None = None) -> dict[str, str]:
    moment = now or datetime.now(UTC)
    return {"webhook-id": message_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, moment, body),
            "content-type": "application/json",
            "user-agent": "portal-graph-webhooks/1"}
