"""SQL for credentials: sessions, API tokens and the memberships a login can act in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.db.tables import api_tokens, persons, sessions
from portal_graph.db.tenancy import NOBODY, SystemContext, Tenancy, runs_in
from portal_graph.scope import Scope, current_grants_sql

# Resolves a bearer token to everything the Viewer needs, grants included, in ONE statement;
# the grants are read on every request so that a revocation applies to the very next one.
# It runs in the VIEWER_LOOKUP system context (the organization is not known yet), and its
# outer SELECT, evaluated after the lookup, enters the credential's organization and leaves
# that context: from here on row-level security lets only that organization's rows through.
# The LEFT JOIN on a constant row makes that happen for an unknown token too (entering nobody).
_VIEWER_SQL = """
SELECT v.*, set_config('app.organization_id', COALESCE(v.organization_id::text, ''), true)
              AS entered_organization,
       set_config('app.system_context', '', true) AS entered_system
FROM (SELECT 1) AS one LEFT JOIN LATERAL (
SELECT c.id AS credential_id, c.organization_id, c.person_id, {last_seen} AS last_seen_at,
       c.write_lsn,
       p.email, p.name, sm.id AS staff_member_id, sm.role,
       eu.id AS external_user_id,
       COALESCE(({grants}), '{{}}') AS grants
FROM {table} c
JOIN persons p ON p.id = c.person_id
LEFT JOIN staff_members sm
       ON sm.organization_id = c.organization_id AND sm.person_id = c.person_id
      AND sm.deactivated_at IS NULL
LEFT JOIN external_users eu
       ON eu.organization_id = c.organization_id AND eu.person_id = c.person_id
      AND eu.access_revoked_at IS NULL
WHERE c.token_hash = :digest AND {alive}
) AS v ON true
"""
_SESSION_ALIVE = ("c.ended_at IS NULL AND c.expires_at > now() "
                  "AND c.last_seen_at > now() - make_interval(mins => :idle_minutes)")
_TOKEN_ALIVE = "c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > now())"
# The grants as the Scope holds them: scope.py says which count (not an archived customer's).
_GRANTS = current_grants_sql("c.organization_id", "eu.id")
SESSION_VIEWER = text(_VIEWER_SQL.format(table="sessions", alive=_SESSION_ALIVE,
                                         last_seen="c.last_seen_at", grants=_GRANTS))
# An API token's activity column is last_used_at; it is read under the session's name.
TOKEN_VIEWER = text(_VIEWER_SQL.format(table="api_tokens", alive=_TOKEN_ALIVE,
                                       last_seen="c.last_used_at", grants=_GRANTS))
_ENTERED = ("entered_organization", "entered_system")


@dataclass(frozen=True, slots=True)
class CredentialRow:
    credential_id: uuid.UUID
    organization_id: uuid.UUID
    person_id: uuid.UUID
    last_seen_at: datetime | None
    email: str
    name: str | None
    staff_member_id: uuid.UUID | None
    role: str | None
    external_user_id: uuid.UUID | None
    grants: list[uuid.UUID]
    write_lsn: int | None = None  # the primary's WAL position after its last write


async def credential_by_digest(
    session: RequestSession, digest: bytes, *, api_token: bool, idle_minutes: int
) -> CredentialRow | None:
    """The live credential with this digest, whichever organization it belongs to; the
    transaction then acts for that organization (or for nobody, when there is none)."""
    params: dict[str, object] = {"digest": digest}
    if not api_token:
        params["idle_minutes"] = idle_minutes
    await session.set_tenancy(Tenancy(system=SystemContext.VIEWER_LOOKUP))
    row = (await session.execute(TOKEN_VIEWER if api_token else SESSION_VIEWER, params)).one()
    found = {k: v for k, v in row._mapping.items() if k not in _ENTERED}
    if found["credential_id"] is None:
        session.entered(NOBODY)
        return None
    session.entered(Tenancy(found["organization_id"]))
    return CredentialRow(**found)


# Activity is recorded in one statement that skips rows another request is recording right
# now (SKIP LOCKED): concurrent requests of one person never queue on that row lock.
_TOUCH_SQL = """
WITH credential AS (
  UPDATE {table} SET {column} = now()
  WHERE (organization_id, id) IN (
    SELECT organization_id, id FROM {table}
     WHERE organization_id = :organization_id AND id = :credential_id
     FOR UPDATE SKIP LOCKED)
  RETURNING 1
), seen AS (
  UPDATE external_users SET last_seen_at = now()
  WHERE (organization_id, id) IN (
    SELECT organization_id, id FROM external_users
     WHERE organization_id = :organization_id AND id = :external_user_id
       AND (last_seen_at IS NULL OR last_seen_at < now() - make_interval(secs => :every))
     FOR UPDATE SKIP LOCKED)
  RETURNING 1
)
SELECT (SELECT count(*) FROM credential) + (SELECT count(*) FROM seen)
"""
TOUCH_SESSION = text(_TOUCH_SQL.format(table="sessions", column="last_seen_at"))
TOUCH_API_TOKEN = text(_TOUCH_SQL.format(table="api_tokens", column="last_used_at"))


async def touch(session: RequestSession, row: CredentialRow, *, api_token: bool,
                every_seconds: float) -> None:
    """Record activity (throttled): the credential, and 'last seen' of an external user."""
    await session.execute(TOUCH_API_TOKEN if api_token else TOUCH_SESSION, {
        "organization_id": row.organization_id, "credential_id": row.credential_id,
        "external_user_id": row.external_user_id, "every": every_seconds})


_RECORD_WRITE_SQL = """
UPDATE {table} SET write_lsn = (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint
WHERE organization_id = :organization_id AND id = :credential_id
RETURNING write_lsn
"""
RECORD_SESSION_WRITE = text(_RECORD_WRITE_SQL.format(table="sessions"))
RECORD_API_TOKEN_WRITE = text(_RECORD_WRITE_SQL.format(table="api_tokens"))


async def record_write(session: RequestSession, organization_id: uuid.UUID,
                       credential_id: uuid.UUID, *, api_token: bool) -> int | None:
    """Note, after a request's writes committed, the primary's WAL position on its credential:
    taken after that commit, it is at or past it (read replicas compare it, replicas.py)."""
    return await session.scalar(RECORD_API_TOKEN_WRITE if api_token else RECORD_SESSION_WRITE,
                                {"organization_id": organization_id,
                                 "credential_id": credential_id})


async def person_by_email(session: RequestSession, email_normalized: str) -> Row[Any] | None:
    """The login identity with this email (persons are written by accounts/persons.py only)."""
    return (await session.execute(
        select(persons).where(persons.c.email_normalized == email_normalized))).first()


@dataclass(frozen=True, slots=True)
class Membership:
    organization_id: uuid.UUID
    organization_name: str
    role: str | None  # None for an external membership


@runs_in(SystemContext.SIGN_IN, SystemContext.MEMBERSHIPS, SystemContext.ACCOUNT)
async def memberships(session: RequestSession, person_id: uuid.UUID) -> list[Membership]:
    """The organizations a person can act in: active staff and external memberships."""
    staff = select(models.Organization.id, models.Organization.name,
                   models.StaffMember.role).join(
        models.StaffMember, and_(models.StaffMember.organization_id == models.Organization.id,
                                 models.StaffMember.deactivated_at.is_(None))
    ).where(models.StaffMember.person_id == person_id)
    external = select(models.Organization.id, models.Organization.name,
                      literal(None).label("role")).join(
        models.ExternalUser, and_(models.ExternalUser.organization_id == models.Organization.id,
                                  models.ExternalUser.access_revoked_at.is_(None))
    ).where(models.ExternalUser.person_id == person_id)
    rows = (await session.execute(staff.union_all(external).order_by(text("name")))).all()
    seen: dict[uuid.UUID, Membership] = {}
    for org_id, name, role in rows:
        role_value = role.value if isinstance(role, models.Role) else role
        # Staff precedes external in the same organization (it cannot normally happen).
        if org_id not in seen or role_value is not None:
            seen[org_id] = Membership(org_id, name, role_value)
    return list(seen.values())


@runs_in(SystemContext.SIGN_IN, or_acting_for="organization_id")
async def create_session(
    session: RequestSession, *, organization_id: uuid.UUID, person_id: uuid.UUID, digest: bytes,
    ttl: timedelta, client_address: str | None, parent_session_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A session in the organization being signed in to (the sign-in system context, or acting
    for that organization: an accepted invitation's): there is no Scope yet, the session is what
    makes one."""
    session_id = models.new_id()
    await session.execute(insert(sessions).values(
        organization_id=organization_id, id=session_id, person_id=person_id, token_hash=digest,
        expires_at=func.now() + ttl, client_address=client_address,
        parent_session_id=parent_session_id))
    return session_id


async def create_api_token(
    session: RequestSession, scope: Scope, *, person_id: uuid.UUID, name: str,
    digest: bytes, expires_in_days: int | None, session_id: uuid.UUID,
) -> Row[Any]:
    return (await session.execute(insert(api_tokens).values(
        organization_id=scope.organization_id, id=models.new_id(), person_id=person_id,
        name=name, token_hash=digest,
        expires_at=(func.now() + timedelta(days=expires_in_days)) if expires_in_days else None,
        session_id=session_id).returning(*api_tokens.c))).one()


async def api_tokens_of(session: RequestSession, scope: Scope,
                        person_id: uuid.UUID) -> list[Row[Any]]:
    """A person's own tokens in the scope's organization (an external user's too)."""
    return list((await session.execute(
        select(api_tokens)
        .where(api_tokens.c.organization_id == scope.organization_id,
               api_tokens.c.person_id == person_id)
        .order_by(api_tokens.c.id.desc()))).all())


async def revoke_api_token(session: RequestSession, scope: Scope,
                           person_id: uuid.UUID, token_id: uuid.UUID) -> bool:
    result = await session.execute(
        update(api_tokens)
        .where(api_tokens.c.organization_id == scope.organization_id,
               api_tokens.c.person_id == person_id, api_tokens.c.id == token_id,
               api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- housekeeping (maintenance.py, in the housekeeping system context: every organization)

# A dead session stays while a live API token descends from it: revoking what it derives from
# (auth/revocation.py) must still reach that token.
_ANCESTORS_OF_LIVE_TOKENS = text("""
    WITH RECURSIVE needed(id) AS (
      SELECT session_id FROM api_tokens
       WHERE session_id IS NOT NULL AND revoked_at IS NULL
         AND (expires_at IS NULL OR expires_at > now())
      UNION
      SELECT s.parent_session_id FROM sessions s JOIN needed n ON s.id = n.id
       WHERE s.parent_session_id IS NOT NULL
    ) SELECT id FROM needed""").columns(id=UUID(as_uuid=True))


def _older_than(interval: str) -> Any:
    return func.now() - text(f"interval '{interval}'")


@runs_in(SystemContext.HOUSEKEEPING)
async def delete_dead_sessions(session: AsyncSession, keep: str) -> int:
    """Delete sessions ended or expired longer than `keep` (an interval, '30 days') ago,
    except the ancestors of live API tokens; how many went."""
    result = await session.execute(delete(sessions).where(
        func.coalesce(sessions.c.ended_at, sessions.c.expires_at) < _older_than(keep),
        sessions.c.id.not_in(_ANCESTORS_OF_LIVE_TOKENS.subquery().select())))
    return result.rowcount or 0  # type: ignore[attr-defined, no-any-return]


@runs_in(SystemContext.HOUSEKEEPING)
async def delete_dead_api_tokens(session: AsyncSession, keep: str) -> int:
    """Delete API tokens revoked or expired longer than `keep` ago; how many went."""
    result = await session.execute(delete(api_tokens).where(
        func.coalesce(api_tokens.c.revoked_at, api_tokens.c.expires_at) < _older_than(keep)))
    return result.rowcount or 0  # type: ignore[attr-defined, no-any-return]
