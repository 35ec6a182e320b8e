"""Webhook queries and mutations: register, update, delete, rotate the secret, redeliver."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.engine import Row

from portal_graph.capabilities import MANAGE_WEBHOOKS
from portal_graph.graphql.core.audiences import field
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.payloads import mutation, payload
from portal_graph.graphql.core.relay import parse_id
from portal_graph.webhooks import repository as repo
from portal_graph.webhooks import service
from portal_graph.webhooks.types import PARTNERS, WebhookDelivery, WebhookEndpoint


@strawberry.input
class CreateWebhookEndpointInput:
    url: str
    description: str | None = None
    event_kinds: list[str] | None = strawberry.field(default=None, description=(
        "Events to receive; all you may receive when omitted. Everyone: job.completed, "
        "job.updated, map_capture.created; the organization's endpoints also "
        "invitation.accepted, invitation.email_failed, external_user.access_revoked."))


@payload
class WebhookEndpointWithSecretPayload:
    endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(default=None, description=(
        "The signing secret (whsec_...): shown this once. Verify every delivery with it."))


@strawberry.input
class UpdateWebhookEndpointInput:
    endpoint_id: strawberry.ID
    url: str | None = None
    description: str | None = None
    event_kinds: list[str] | None = None
    enabled: bool | None = strawberry.field(default=None, description=(
        "Enable again after a disabling (the day of failures counts afresh), or pause."))


@payload
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = None


@strawberry.input
class WebhookEndpointIdInput:
    endpoint_id: strawberry.ID


@payload
class DeleteWebhookEndpointPayload:
    deleted_endpoint_id: strawberry.ID | None = None


@strawberry.input
class RedeliverWebhookInput:
    delivery_id: strawberry.ID


@payload
class RedeliverWebhookPayload:
    delivery: WebhookDelivery | None = None


def _with_secret(endpoint: tuple[Row[Any], str]) -> WebhookEndpointWithSecretPayload:
    """An endpoint just given a secret (registered, or rotated) and that secret, shown once."""
    row, secret = endpoint
    return WebhookEndpointWithSecretPayload(endpoint=WebhookEndpoint.from_row(row), secret=secret)


@strawberry.type
class WebhookQueries:
    @field(audiences=PARTNERS, description=(
        "Webhook endpoints: an admin sees the organization's and its external users'; an "
        "external user only their own."))
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        rows = await repo.endpoints_of(info.context.session, info.context.scope)
        return [WebhookEndpoint.from_row(row) for row in rows]


@strawberry.type
class WebhookMutations:
    @mutation(payload=WebhookEndpointWithSecretPayload, rule=MANAGE_WEBHOOKS, description=(
        "Register an endpoint: the organization's (admins) or your own (external users, "
        "who receive only events about what they can see)."))
    async def create_webhook_endpoint(
            self, info: Info, input: CreateWebhookEndpointInput,
    ) -> WebhookEndpointWithSecretPayload:
        ctx = info.context
        return _with_secret(await service.register(
            ctx.session, ctx.scope, ctx.runtime.box, ctx.settings, url=input.url,
            description=input.description, event_kinds=input.event_kinds))

    @mutation(payload=WebhookEndpointPayload, rule=MANAGE_WEBHOOKS,
              description="Change an endpoint's URL, events or state.")
    async def update_webhook_endpoint(self, info: Info,
                                      input: UpdateWebhookEndpointInput) -> WebhookEndpointPayload:
        ctx = info.context
        row = await service.update(
            ctx.session, ctx.scope, ctx.settings,
            parse_id(input.endpoint_id, "WebhookEndpoint"), url=input.url,
            description=input.description, event_kinds=input.event_kinds,
            enabled=input.enabled)
        return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_row(row))

    @mutation(payload=DeleteWebhookEndpointPayload, rule=MANAGE_WEBHOOKS,
              description="Delete an endpoint and its deliveries.")
    async def delete_webhook_endpoint(
            self, info: Info, input: WebhookEndpointIdInput) -> DeleteWebhookEndpointPayload:
        ctx = info.context
        await service.delete(ctx.session, ctx.scope,
                             parse_id(input.endpoint_id, "WebhookEndpoint"))
        return DeleteWebhookEndpointPayload(deleted_endpoint_id=input.endpoint_id)

    @mutation(payload=WebhookEndpointWithSecretPayload, rule=MANAGE_WEBHOOKS, description=(
        "A new signing secret, shown once; deliveries from now on are signed with it."))
    async def rotate_webhook_secret(
            self, info: Info, input: WebhookEndpointIdInput) -> WebhookEndpointWithSecretPayload:
        ctx = info.context
        return _with_secret(await service.rotate_secret(
            ctx.session, ctx.scope, ctx.runtime.box,
            parse_id(input.endpoint_id, "WebhookEndpoint")))

    @mutation(payload=RedeliverWebhookPayload, rule=MANAGE_WEBHOOKS, description=(
        "Send a delivery again (same webhook-id), now, with a fresh count of attempts."))
    async def redeliver_webhook(self, info: Info,
                                input: RedeliverWebhookInput) -> RedeliverWebhookPayload:
        ctx = info.context
        row = await service.redeliver(ctx.session, ctx.scope,
                                      parse_id(input.delivery_id, "WebhookDelivery"))
        return RedeliverWebhookPayload(delivery=WebhookDelivery.from_row(row))

