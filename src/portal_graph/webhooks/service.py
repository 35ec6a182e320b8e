"""Rules for webhook endpoints: who owns one, what it may hear, where it may point.

An admin's endpoint belongs to the organization and may subscribe to every event; an external
user's (or their API token's) belongs to that external user, may subscribe only to the events
about work (job.completed, job.updated, map_capture.created) and hears only of rows in the
owner's scope at delivery time. The signing secret is returned once, when made or rotated.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from portal_graph.config import Settings
from portal_graph.mail.secretbox import SecretBox
from portal_graph.problems import Rejected, UserErrorCode, invalid, not_found
from portal_graph.scope import Scope
from portal_graph.webhooks import destinations, signing
from portal_graph.webhooks import repository as repo

MAX_ENDPOINTS = 20  # per owner: the organization, or one external user


def allowed_kinds(scope: Scope) -> tuple[str, ...]:
    return repo.FOR_EVERYONE if scope.external else (*repo.FOR_EVERYONE, *repo.FOR_STAFF)


def _kinds(scope: Scope, kinds: list[str] | None) -> list[str]:
    allowed = allowed_kinds(scope)
    if kinds is None:
        return list(allowed)
    if not kinds or any(kind not in allowed for kind in kinds):
        raise invalid(f"Choose events among: {', '.join(allowed)}.", "eventKinds")
    return sorted(set(kinds))


async def _checked_url(url: str, settings: Settings) -> str:
    try:
        await destinations.resolve(url, allow_private=settings.webhook_allow_private)
    except destinations.InvalidUrl as error:
        raise Rejected(UserErrorCode.INVALID_URL, str(error), "url") from None
    except destinations.DestinationRefused as error:
        raise Rejected(UserErrorCode.DESTINATION_REFUSED, str(error), "url") from None
    return url.strip()


def _description(value: str | None) -> str | None:
    value = (value or "").strip()
    if len(value) > 500:
        raise invalid("Use at most 500 characters.", "description")
    return value or None


async def register(session: AsyncSession, scope: Scope, box: SecretBox, settings: Settings, *,
                   url: str, description: str | None,
                   event_kinds: list[str] | None) -> tuple[Row[Any], str]:
    kinds = _kinds(scope, event_kinds)
    url = await _checked_url(url, settings)
    owned = [e for e in await repo.endpoints_of(session, scope)
             if e.owner_external_user_id == scope.external_user_id]
    if len(owned) >= MAX_ENDPOINTS:
        raise invalid(f"At most {MAX_ENDPOINTS} endpoints.", "url")
    secret = signing.new_secret()
    row = await repo.add_endpoint(session, scope, url=url, description=_description(description),
                                  kinds=kinds, secret_ciphertext=box.encrypt(secret))
    return row, secret


async def update(session: AsyncSession, scope: Scope, settings: Settings,
                 endpoint_id: uuid.UUID | None, *, url: str | None, description: str | None,
                 event_kinds: list[str] | None, enabled: bool | None) -> Row[Any]:
    values: dict[str, Any] = {}
    if url is not None:
        values["url"] = await _checked_url(url, settings)
    if description is not None:
        values["description"] = _description(description)
    if event_kinds is not None:
        values["event_kinds"] = _kinds(scope, event_kinds)
    if enabled is not None:
        values["enabled"] = enabled
        if enabled:  # a fresh start: a day of failures counts from now
            values.update(failing_since=None, disabled_reason=None)
        else:
            values["disabled_reason"] = "disabled by a person"
    row = None
    if endpoint_id is not None:
        row = (await repo.change_endpoint(session, scope, endpoint_id, **values) if values
               else await repo.endpoint(session, scope, endpoint_id))
    if row is None:
        raise not_found("Webhook endpoint", "endpointId")
    return row


async def delete(session: AsyncSession, scope: Scope, endpoint_id: uuid.UUID | None) -> None:
    if endpoint_id is None or not await repo.remove_endpoint(session, scope, endpoint_id):
        raise not_found("Webhook endpoint", "endpointId")


async def rotate_secret(session: AsyncSession, scope: Scope, box: SecretBox,
                        endpoint_id: uuid.UUID | None) -> tuple[Row[Any], str]:
    """A new secret, at once: deliveries sent from now on are signed with it."""
    secret = signing.new_secret()
    row = (await repo.change_endpoint(session, scope, endpoint_id,
                                      secret_ciphertext=box.encrypt(secret))
           if endpoint_id else None)
    if row is None:
        raise not_found("Webhook endpoint", "endpointId")
    return row, secret


async def redeliver(session: AsyncSession, scope: Scope,
                    delivery_id: uuid.UUID | None) -> Row[Any]:
    row = await repo.redeliver(session, scope, delivery_id) if delivery_id else None
    if row is None:
        raise not_found("Webhook delivery", "deliveryId")
    return row
