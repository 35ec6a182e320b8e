"""Async factories with keyword overrides: rows straight into the real database."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal_graph.auth.passwords import hash_password_sync
from portal_graph.auth.tokens import SESSION_PREFIX, new_token, token_digest
from portal_graph.db import models

PASSWORD = "correct horse battery staple"
# What a request with a dead bearer token (ended, revoked, expired, unknown) is answered: 401.
INVALID_TOKEN = {"errors": [{"message": "The bearer token is invalid, expired or revoked.",
                             "extensions": {"code": "UNAUTHENTICATED"}}]}
PASSWORD_HASH = hash_password_sync(PASSWORD)  # hashed once: argon2 is slow on purpose
_numbers = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_numbers)}"


class Factory:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def _insert(self, model: type, **values: Any) -> dict[str, Any]:
        values.setdefault("id", models.new_id())
        async with self.sessionmaker() as session, session.begin():
            await session.execute(insert(model).values(**values))
        return values

    async def organization(self, **kw: Any) -> uuid.UUID:
        kw.setdefault("name", unique("Org "))
        kw.setdefault("invitation_ttl_days", 7)
        return (await self._insert(models.Organization, **kw))["id"]

    async def person(self, **kw: Any) -> dict[str, Any]:
        """A person whose mailbox is proven (they set their own password), unless
        `email_verified_at=None` says otherwise."""
        email = kw.pop("email", None) or f"{unique('person')}@example.com"
        kw.setdefault("name", email.split("@")[0].title())
        kw.setdefault("password_hash", PASSWORD_HASH)
        kw.setdefault("email_verified_at", datetime.now(UTC))
        return await self._insert(models.Person, email=email,
                                  email_normalized=email.strip().lower(), **kw)

    async def staff(self, organization_id: uuid.UUID, role: models.Role = models.Role.ADMIN,
                    **person_kw: Any) -> dict[str, Any]:
        person = person_kw.pop("person", None) or await self.person(**person_kw)
        member = await self._insert(models.StaffMember, organization_id=organization_id,
                                    person_id=person["id"], role=role)
        return {**member, "person": person, "email": person["email"]}

    async def external(self, organization_id: uuid.UUID, customer_ids: list[uuid.UUID],
                       **person_kw: Any) -> dict[str, Any]:
        person = person_kw.pop("person", None) or await self.person(**person_kw)
        member = await self._insert(models.ExternalUser, organization_id=organization_id,
                                    person_id=person["id"])
        await self.grant(organization_id, member["id"], customer_ids)
        return {**member, "person": person, "email": person["email"]}

    async def grant(self, organization_id: uuid.UUID, external_user_id: uuid.UUID,
                    customer_ids: list[uuid.UUID]) -> None:
        if not customer_ids:
            return
        async with self.sessionmaker() as session, session.begin():
            await session.execute(insert(models.CustomerGrant), [
                {"organization_id": organization_id, "external_user_id": external_user_id,
                 "customer_id": c} for c in customer_ids])

    async def customer(self, organization_id: uuid.UUID, **kw: Any) -> uuid.UUID:
        kw.setdefault("name", unique("Customer "))
        return (await self._insert(models.Customer, organization_id=organization_id,
                                   **kw))["id"]

    async def job(self, organization_id: uuid.UUID, customer_id: uuid.UUID,
                  status: models.JobStatus = models.JobStatus.COMPLETED,
                  asset_ids: list[uuid.UUID] = (), **kw: Any) -> uuid.UUID:  # type: ignore[assignment]
        kw.setdefault("reference", unique("J-"))
        kw.setdefault("title", "Inspect " + kw["reference"])
        kw.setdefault("internal_notes", "staff only note")
        kw.setdefault("price", Decimal("100.00"))
        if status is models.JobStatus.COMPLETED:
            kw.setdefault("completed_at", datetime.now(UTC) - timedelta(days=1))
        job_id = (await self._insert(models.Job, organization_id=organization_id,
                                     customer_id=customer_id, status=status, **kw))["id"]
        if asset_ids:
            async with self.sessionmaker() as session, session.begin():
                await session.execute(insert(models.JobAsset), [
                    {"organization_id": organization_id, "job_id": job_id, "asset_id": a}
                    for a in asset_ids])
        return job_id

    async def asset(self, organization_id: uuid.UUID, customer_id: uuid.UUID,
                    **kw: Any) -> uuid.UUID:
        kw.setdefault("name", unique("Asset "))
        return (await self._insert(models.Asset, organization_id=organization_id,
                                   customer_id=customer_id, **kw))["id"]

    async def capture(self, organization_id: uuid.UUID, customer_id: uuid.UUID,
                      job_id: uuid.UUID | None = None, **kw: Any) -> uuid.UUID:
        kw.setdefault("latitude", 51.5)
        kw.setdefault("longitude", -0.1)
        return (await self._insert(models.MapCapture, organization_id=organization_id,
                                   customer_id=customer_id, job_id=job_id, **kw))["id"]

    async def session_token(self, organization_id: uuid.UUID, person_id: uuid.UUID) -> str:
        token = new_token(SESSION_PREFIX)
        await self._insert(models.Session, organization_id=organization_id,
                           person_id=person_id, token_hash=token_digest(token),
                           expires_at=datetime.now(UTC) + timedelta(days=1))
        return token
