"""Ending credentials, and everything derived from them.

A session minted by another session (switchOrganization) records its parent, possibly in
another organization; an API token records the session that made it. Signing a session out
ends its descendants (an integration's token outlives the sign-out of the session that made
it); taking a membership away (revoke all, deactivation) ends every session and token of that
person there and everything descended from any of their sessions there, tokens included; a
password reset ends everything the person has, everywhere. Each is one statement, run in the
CREDENTIALS system context (db/tenancy.py): a person's credentials and what descends from them
span organizations, so no one organization's row-level security may cut the cascade short.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import TextClause, text

from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import SystemContext

# `roots` is the sessions to end; `tree` adds their descendants, carrying the organization so
# that each update is a primary-key lookup. Descendants are always the same person's.
_TREE = """
WITH RECURSIVE roots AS ({roots}),
tree AS (
  SELECT organization_id, id FROM roots
  UNION
  SELECT s.organization_id, s.id FROM sessions s JOIN tree t ON s.parent_session_id = t.id
),
ended AS (
  UPDATE sessions SET ended_at = now()
  WHERE (organization_id, id) IN (SELECT organization_id, id FROM tree) AND ended_at IS NULL
  RETURNING 1
),
revoked AS (
  UPDATE api_tokens SET revoked_at = now()
  WHERE revoked_at IS NULL AND {tokens}
  RETURNING 1
)
SELECT (SELECT count(*) FROM ended) AS sessions, (SELECT count(*) FROM revoked) AS api_tokens
"""
_SESSION_AND_DESCENDANTS = text(_TREE.format(
    roots="SELECT organization_id, id FROM sessions "
          "WHERE organization_id = :organization_id AND id = :session_id",
    tokens="false"))  # signing out: tokens stay
# Every session the person ever had in the organization is a root: a session switched away
# from (and so ended) still has live descendants elsewhere.
_MEMBERSHIP = text(_TREE.format(
    roots="SELECT organization_id, id FROM sessions "
          "WHERE organization_id = :organization_id AND person_id = :person_id",
    tokens="((organization_id = :organization_id AND person_id = :person_id) "
           "OR session_id IN (SELECT id FROM tree))"))
_EVERYTHING = text("""
WITH ended AS (
  UPDATE sessions SET ended_at = now()
  WHERE person_id = :person_id AND ended_at IS NULL
    AND (CAST(:keep AS uuid) IS NULL OR id <> CAST(:keep AS uuid))
  RETURNING 1
), revoked AS (
  UPDATE api_tokens SET revoked_at = now()
  WHERE person_id = :person_id AND revoked_at IS NULL AND :tokens
  RETURNING 1
)
SELECT (SELECT count(*) FROM ended) AS sessions, (SELECT count(*) FROM revoked) AS api_tokens
""")


async def end_session(session: RequestSession, organization_id: uuid.UUID,
                      session_id: uuid.UUID) -> int:
    """End one session and the sessions minted from it (not the API tokens they made);
    returns how many ended."""
    row = await _run(session, _SESSION_AND_DESCENDANTS, {
        "organization_id": organization_id, "session_id": session_id})
    return int(row.sessions)


async def end_membership_credentials(session: RequestSession, organization_id: uuid.UUID,
                                     person_id: uuid.UUID) -> tuple[int, int]:
    """(sessions, API tokens) ended: the person's in the organization, and every one derived
    from a session they had there, in whichever organization."""
    row = await _run(session, _MEMBERSHIP, {
        "organization_id": organization_id, "person_id": person_id})
    return int(row.sessions), int(row.api_tokens)


async def end_every_credential(session: RequestSession, person_id: uuid.UUID) -> tuple[int, int]:
    """(sessions, API tokens) ended: all of the person's, in every organization."""
    row = await _run(session, _EVERYTHING, {"person_id": person_id, "keep": None,
                                            "tokens": True})
    return int(row.sessions), int(row.api_tokens)


async def end_other_sessions(session: RequestSession, person_id: uuid.UUID,
                             keep_session_id: uuid.UUID) -> int:
    """End every session of the person but one, in every organization; tokens stay."""
    row = await _run(session, _EVERYTHING, {"person_id": person_id,
                                            "keep": keep_session_id, "tokens": False})
    return int(row.sessions)


async def _run(session: RequestSession, statement: TextClause, params: dict[str, Any]) -> Any:
    async def ending() -> Any:
        return (await session.execute(statement, params)).one()

    return await session.as_system(SystemContext.CREDENTIALS, ending)
