"""Who is calling, and signing in and out. Services flush; the request owner commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Row

from portal_graph.auth import repository as repo
from portal_graph.auth import revocation
from portal_graph.auth.email import email_key
from portal_graph.auth.passwords import verify_password
from portal_graph.auth.tokens import (
    API_TOKEN_PREFIX,
    SESSION_PREFIX,
    new_token,
    token_digest,
)
from portal_graph.config import Settings
from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import SystemContext
from portal_graph.problems import Rejected, UserErrorCode
from portal_graph.scope import ANONYMOUS, Audience, Viewer, scope_for

# Activity is recorded at most this often per credential, so reads stay read-only.
TOUCH_EVERY = timedelta(seconds=60)
BAD_LOGIN = "Email or password is incorrect."


class InvalidToken(Exception):
    """A bearer token that is not (or no longer) a credential: unknown, expired, revoked, or
    its person's membership is gone. Answered 401 (RFC 6750 `invalid_token`)."""


async def resolve_viewer(session: RequestSession, token: str | None, settings: Settings) -> Viewer:
    """The Viewer for a bearer token, read fresh (roles and grants) on every request; the
    transaction then acts for the viewer's organization (db/tenancy.py). No token: ANONYMOUS.
    Raises InvalidToken for a token that does not (or no longer) stand for anyone."""
    if not token:
        return ANONYMOUS
    is_api_token = token.startswith(API_TOKEN_PREFIX)
    if not (is_api_token or token.startswith(SESSION_PREFIX)) or len(token) > 200:
        raise InvalidToken
    row = await repo.credential_by_digest(session, token_digest(token), api_token=is_api_token,
                                          idle_minutes=settings.session_idle_minutes)
    if row is None:
        raise InvalidToken
    if row.staff_member_id is not None and row.role is not None:
        role = models.Role(row.role)
        audience = Audience.ADMIN if role is models.Role.ADMIN else Audience.STAFF
    elif row.external_user_id is not None:
        role, audience = None, Audience.EXTERNAL
    else:
        raise InvalidToken  # the membership is gone: the credential acts for nobody
    if row.last_seen_at is None or datetime.now(UTC) - row.last_seen_at > TOUCH_EVERY:
        await repo.touch(session, row, api_token=is_api_token,
                         every_seconds=TOUCH_EVERY.total_seconds())
    return Viewer(
        audience=audience, person_id=row.person_id, organization_id=row.organization_id,
        email=row.email, name=row.name, role=role, staff_member_id=row.staff_member_id,
        external_user_id=row.external_user_id, granted_customer_ids=frozenset(row.grants),
        session_id=None if is_api_token else row.credential_id,
        api_token_id=row.credential_id if is_api_token else None, write_lsn=row.write_lsn,
    )


class OrganizationRequired(Rejected):
    """The password was right and the person belongs to several organizations: which one?"""

    def __init__(self, choices: list[repo.Membership]) -> None:
        super().__init__(UserErrorCode.ORGANIZATION_REQUIRED,
                         "You belong to several organizations: choose one.", "organizationId")
        self.choices = choices


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    person_id: uuid.UUID
    organization_id: uuid.UUID


async def login(
    session: RequestSession, settings: Settings, *, email: str, password: str,
    organization_id: uuid.UUID | None, client_address: str | None,
) -> LoginResult:
    key = email_key(email)
    person = await repo.person_by_email(session, key) if key else None
    # Unknown emails pay for a hash check too: the answer and its timing say nothing.
    password_ok = await verify_password(person.password_hash if person else None, password)
    if person is None or not password_ok:
        raise Rejected(UserErrorCode.INVALID_CREDENTIALS, BAD_LOGIN)
    person_id = person.id
    # The person's memberships and the new session may be in any organization.
    return await session.as_system(SystemContext.SIGN_IN, lambda: _start_session(
        session, settings, person_id, organization_id, client_address))


async def _start_session(
    session: RequestSession, settings: Settings, person_id: uuid.UUID,
    organization_id: uuid.UUID | None, client_address: str | None,
) -> LoginResult:
    choices = await repo.memberships(session, person_id)
    if organization_id is None:
        if len(choices) != 1:
            if not choices:
                raise Rejected(UserErrorCode.INVALID_CREDENTIALS, BAD_LOGIN)
            raise OrganizationRequired(choices)
        organization_id = choices[0].organization_id
    elif organization_id not in {m.organization_id for m in choices}:
        raise Rejected(UserErrorCode.INVALID_CREDENTIALS, BAD_LOGIN)
    return await start_session_in(session, settings, person_id, organization_id, client_address)


async def start_session_in(
    session: RequestSession, settings: Settings, person_id: uuid.UUID,
    organization_id: uuid.UUID, client_address: str | None,
    parent_session_id: uuid.UUID | None = None,
) -> LoginResult:
    token = new_token(SESSION_PREFIX)
    await repo.create_session(
        session, organization_id=organization_id, person_id=person_id,
        digest=token_digest(token), ttl=timedelta(hours=settings.session_ttl_hours),
        client_address=client_address, parent_session_id=parent_session_id,
    )
    return LoginResult(token, person_id, organization_id)


class CredentialRequired(Exception):
    """Only a signed-in session may do this (an API token may not); the GraphQL layer refuses
    such calls before they get here, so reaching this is a bug, not a user error."""


def require_session(viewer: Viewer) -> uuid.UUID:
    if viewer.session_id is None or viewer.person_id is None:
        raise CredentialRequired("this needs a session, not an API token")
    return viewer.session_id


async def switch_organization(
    session: RequestSession, settings: Settings, viewer: Viewer, organization_id: uuid.UUID,
    client_address: str | None,
) -> LoginResult:
    """A new session in another of the person's organizations, minted by (and recorded as a
    child of) the current one, which ends first (ending a session ends what it minted)."""
    parent = require_session(viewer)
    person_id = viewer.person_id
    assert person_id is not None and viewer.organization_id is not None

    async def check() -> None:
        choices = await repo.memberships(session, person_id)
        if organization_id not in {m.organization_id for m in choices}:
            raise Rejected(UserErrorCode.NOT_FOUND, "Organization not found", "organizationId")

    await session.as_system(SystemContext.SIGN_IN, check)
    await logout(session, viewer)
    return await session.as_system(SystemContext.SIGN_IN, lambda: start_session_in(
        session, settings, person_id, organization_id, client_address,
        parent_session_id=parent))


async def logout(session: RequestSession, viewer: Viewer) -> bool:
    """End this session, and any session minted from it."""
    if viewer.session_id is None or viewer.organization_id is None:
        return False
    await revocation.end_session(session, viewer.organization_id, viewer.session_id)
    return True


async def create_api_token(
    session: RequestSession, viewer: Viewer, *, name: str, expires_in_days: int | None,
) -> tuple[Row[Any], str]:
    """A token made by a session (never by another token): revoking what that session
    derives from revokes the token too."""
    made_by = require_session(viewer)
    assert viewer.person_id is not None and viewer.organization_id is not None
    name = name.strip()
    if not name or len(name) > 100:
        raise Rejected(UserErrorCode.INVALID_INPUT, "Give the token a name (1-100 characters).",
                       "name")
    if expires_in_days is not None and not 1 <= expires_in_days <= 366:
        raise Rejected(UserErrorCode.INVALID_INPUT, "Expiry must be 1 to 366 days.",
                       "expiresInDays")
    token = new_token(API_TOKEN_PREFIX)
    scope = scope_for(viewer)
    assert scope is not None
    row = await repo.create_api_token(
        session, scope, person_id=viewer.person_id, name=name,
        digest=token_digest(token), expires_in_days=expires_in_days, session_id=made_by,
    )
    return row, token
