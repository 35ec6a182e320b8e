"""Shared by the invitation and external-user tests: the operations as constants, an
organization with an admin and customers, and small readers of the database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from portal_graph.db import models
from portal_graph.graphql.core.relay import from_global_id, to_global_id
from portal_graph.mail.secretbox import SecretBox
from tests.factories import Factory

NEW_PASSWORD = "a long and private passphrase"

INVITE = """mutation($input: InviteExternalUserInput!) { inviteExternalUser(input: $input) {
  invitation { id email name status expiresAt createdAt acceptedAt emailStatus
               customers { id name } invitedBy { email name } }
  inviteUrl userErrors { code field message } } }"""
RESEND = """mutation($id: ID!) { resendInvitation(input: {invitationId: $id}) {
  invitation { id status expiresAt emailStatus } inviteUrl userErrors { code field message } } }"""
REVOKE_INVITATION = """mutation($id: ID!) { revokeInvitation(input: {invitationId: $id}) {
  invitation { id status emailStatus } userErrors { code field message } } }"""
ACCEPT = """mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) {
  token viewer { email name audience organization { name } customerIds }
  userErrors { code field message } } }"""
PREVIEW = """query($token: String!) { invitationPreview(token: $token) {
  organizationName email name kind role customerNames expiresAt expired passwordChoice } }"""
INVITATIONS = """query($status: InvitationStatus, $first: Int, $after: String) {
  invitations(status: $status, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id email status customers { name } emailStatus } } } }"""
EXTERNAL_USERS = """query($search: String, $first: Int, $after: String) {
  externalUsers(search: $search, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id email name status invitedAt lastSeenAt customers { id name } } } } }"""
REVOKE_ACCESS = """mutation($user: ID!, $customer: ID!) {
  revokeExternalAccess(input: {externalUserId: $user, customerId: $customer}) {
    externalUser { id status customers { name } } userErrors { code field message } } }"""
REVOKE_ALL = """mutation($user: ID!) { revokeAllExternalAccess(input: {externalUserId: $user}) {
  externalUser { id status customers { name } } userErrors { code field message } } }"""
SET_CUSTOMERS = """mutation($user: ID!, $customers: [ID!]!) {
  setExternalUserCustomers(input: {externalUserId: $user, customerIds: $customers}) {
    externalUser { id status customers { name } } userErrors { code field message } } }"""
AUDIT = """{ auditEvents(first: 50) { edges { node { id action occurredAt targetEmail
  clientAddress actor { email name } customers { name } } } } }"""
MY_PORTAL = "{ me { email audience customerIds } customers { edges { node { name } } } }"


def gid(type_name: str, id_: uuid.UUID) -> str:
    return to_global_id(type_name, id_)


def only(result: dict[str, Any]) -> Any:
    """The one root field of a successful response."""
    assert "errors" not in result, result["errors"]
    return next(iter(result["data"].values()))


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["userErrors"]]


def token_of(invite_url: str) -> str:
    return invite_url.rsplit("/", 1)[1]


@dataclass
class Org:
    id: uuid.UUID
    name: str
    admin: dict[str, Any]
    token: str  # the admin's session
    customers: dict[str, uuid.UUID] = field(default_factory=dict)

    def customer(self, name: str) -> str:
        return gid("Customer", self.customers[name])


async def organization(make: Factory, name: str = "Evergreen Grounds",
                       customers: tuple[str, ...] = ("Riverside Council", "Harbour Works",
                                                     "Northgate Park"),
                       ttl_days: int = 7) -> Org:
    org_id = await make.organization(name=name, invitation_ttl_days=ttl_days)
    admin = await make.staff(org_id, role=models.Role.ADMIN, name="Alex Admin")
    token = await make.session_token(org_id, admin["person"]["id"])
    org = Org(org_id, name, admin, token)
    for customer in customers:
        org.customers[customer] = await make.customer(org_id, name=customer)
    return org


async def invite(api: Any, org: Org, email: str, *customers: str, name: str | None = None,
                 token: str | None = None) -> dict[str, Any]:
    variables = {"input": {"email": email, "name": name,
                           "customerIds": [org.customer(c) for c in customers]}}
    return only(await api(INVITE, variables, token=token or org.token))  # type: ignore[no-any-return]


async def invited(api: Any, org: Org, email: str, *customers: str, **kw: Any) -> dict[str, Any]:
    """Invite, asserting success; returns the payload."""
    payload = await invite(api, org, email, *customers, **kw)
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def accept(api: Any, token: str, password: str = NEW_PASSWORD,
                 name: str | None = None) -> dict[str, Any]:
    return only(await api(ACCEPT, {"input": {"token": token, "password": password,  # type: ignore[no-any-return]
                                             "name": name}}))


async def signed_up(api: Any, org: Org, email: str, *customers: str) -> tuple[str, str]:
    """Invite and accept as a new person: (the session token, the invitation id)."""
    payload = await invited(api, org, email, *customers)
    accepted = await accept(api, token_of(payload["inviteUrl"]))
    assert accepted["userErrors"] == [], accepted["userErrors"]
    return accepted["token"], payload["invitation"]["id"]


async def sql(sessionmaker: async_sessionmaker, statement: str, **params: Any) -> list[Any]:
    async with sessionmaker() as session, session.begin():
        result = await session.execute(text(statement), params)
        return list(result.all()) if result.returns_rows else []


async def scalar(sessionmaker: async_sessionmaker, statement: str, **params: Any) -> Any:
    async with sessionmaker() as session:
        return await session.scalar(text(statement), params)


async def expire(sessionmaker: async_sessionmaker, email: str) -> None:
    """Stands in for waiting out the expiry: the invitation's expiry moves into the past."""
    await sql(sessionmaker, "UPDATE invitations SET expires_at = now() - interval '1 minute' "
                            "WHERE email_normalized = lower(:email)", email=email)


async def external_user_id(sessionmaker: async_sessionmaker, org: Org, email: str) -> str:
    found = await scalar(sessionmaker, """
        SELECT eu.id FROM external_users eu JOIN persons p ON p.id = eu.person_id
        WHERE eu.organization_id = :org AND p.email_normalized = lower(:email)""",
        org=org.id, email=email)
    assert found is not None
    return gid("ExternalUser", found)



async def emailed_link(sessionmaker: async_sessionmaker, box: SecretBox,
                       invitation_id: str) -> str:
    """The link inside the invitation's newest email, as its recipient reads it: not the
    `inviteUrl` the admin was shown, but the one that proves the mailbox."""
    parsed = from_global_id(invitation_id)
    assert parsed is not None
    sealed = await scalar(sessionmaker, """SELECT secret_ciphertext FROM email_outbox
        WHERE invitation_id = :id ORDER BY created_at DESC, id DESC LIMIT 1""", id=parsed[1])
    assert sealed is not None, "the invitation has no email waiting in the outbox"
    return box.decrypt(sealed)
