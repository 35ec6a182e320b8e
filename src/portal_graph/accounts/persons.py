"""SQL for persons (login identities, shared by organizations) and their reset links.

Persons are not tenant rows: no organization owns one (docs/RULES.md). Only the rules in
`accounts/ownership.py`, the reset service and the operator's bootstrap write them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.db.tables import password_resets as resets
from portal_graph.db.tables import persons

RESET_LIFETIME = timedelta(hours=1)


async def by_email(session: RequestSession, email_key: str) -> Row[Any] | None:
    return (await session.execute(
        select(persons).where(persons.c.email_normalized == email_key))).first()


async def by_id(session: RequestSession, person_id: uuid.UUID) -> Row[Any] | None:
    return (await session.execute(select(persons).where(persons.c.id == person_id))).first()


async def add(session: RequestSession, *, email: str, email_key: str, name: str | None,
              password_hash: str, proven: bool,
              set_in_organization_id: uuid.UUID | None) -> uuid.UUID | None:
    """A new login identity; None when one with this email appeared meanwhile. `proven`: the
    mailbox owner set this password; otherwise `set_in_organization_id` says where it was set."""
    return (await session.execute(
        pg_insert(persons).values(
            id=models.new_id(), email=email, email_normalized=email_key, name=name,
            password_hash=password_hash,
            email_verified_at=func.now() if proven else None,
            password_set_in_organization_id=None if proven else set_in_organization_id)
        .on_conflict_do_nothing(index_elements=["email_normalized"])
        .returning(persons.c.id))).scalar_one_or_none()


async def update(session: RequestSession, person_id: uuid.UUID, *,
                 password_hash: str | None = None, proven: bool = False,
                 name: str | None = None, replace_name: bool = False) -> None:
    """Set a new password (and where it stands), mark the mailbox proven, fill in or replace
    the name. A proven mailbox frees the account from the organization its password was
    set in."""
    values: dict[str, Any] = {}
    if password_hash is not None:
        values["password_hash"] = password_hash
    if proven:
        values["email_verified_at"] = func.coalesce(persons.c.email_verified_at, func.now())
        values["password_set_in_organization_id"] = None
    if name:
        values["name"] = name if replace_name else func.coalesce(persons.c.name, name)
    if values:
        await session.execute(sql_update(persons).where(persons.c.id == person_id).values(**values))


# --- "forgot password" links -----------------------------------------------------------------


async def add_reset(session: RequestSession, person_id: uuid.UUID, digest: bytes,
                    client_address: str | None) -> Row[Any]:
    return (await session.execute(insert(resets).values(
        id=models.new_id(), person_id=person_id, token_hash=digest,
        expires_at=func.now() + RESET_LIFETIME, client_address=client_address)
        .returning(*resets.c))).one()


async def use_reset(session: RequestSession, digest: bytes) -> uuid.UUID | None:
    """Spend a live reset link, in ONE conditional statement (of concurrent uses exactly one
    wins); its person, or None for an unknown, used or expired link. Using one voids every
    other live link of that person."""
    person_id = (await session.execute(
        sql_update(resets)
        .where(resets.c.token_hash == digest, resets.c.used_at.is_(None),
               resets.c.expires_at > func.now())
        .values(used_at=func.now()).returning(resets.c.person_id))).scalar_one_or_none()
    if person_id is not None:
        await session.execute(sql_update(resets).where(resets.c.person_id == person_id,
                                                   resets.c.used_at.is_(None))
                              .values(used_at=func.now()))
    return person_id  # type: ignore[no-any-return]


async def delete_spent_resets(session: AsyncSession, keep: str) -> int:
    """Delete reset links used or expired longer than `keep` (an interval, '1 day') ago; how
    many went (maintenance.py, in the housekeeping system context)."""
    result = await session.execute(delete(resets).where(
        func.coalesce(resets.c.used_at, resets.c.expires_at)
        < func.now() - text(f"interval '{keep}'")))
    return result.rowcount or 0  # type: ignore[attr-defined, no-any-return]
