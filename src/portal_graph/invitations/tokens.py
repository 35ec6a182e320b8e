"""Invitation tokens: 256 bits from the CSPRNG, URL-safe, shown once; only the SHA-256 is stored.

Each issue makes two: the copied link's (`inviteUrl`, shown once to the admin) and the emailed
link's, which exists only inside the sealed outbox email. Presenting the emailed one proves
the mailbox; the copied one proves nothing about it (docs/RULES.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from portal_graph.auth.tokens import INVITATION_PREFIX, digests_match, new_token, token_digest
from portal_graph.config import Settings

MAX_TOKEN_LENGTH = 200  # ours are 43 characters; anything much longer is not worth hashing


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    digest: bytes


@dataclass(frozen=True, slots=True)
class IssuedLinks:
    copied: IssuedToken
    emailed: IssuedToken


def issue() -> IssuedToken:
    token = new_token(INVITATION_PREFIX)
    return IssuedToken(token, token_digest(token))


def issue_links() -> IssuedLinks:
    return IssuedLinks(copied=issue(), emailed=issue())


def digest_of(token: str) -> bytes | None:
    """The digest to look a presented token up by; None for what cannot be one of ours."""
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return token_digest(token)


def matches(stored_digest: bytes, token: str) -> bool:
    """Constant-time check that a stored digest is the presented token's."""
    return digests_match(stored_digest, token.strip())


def invite_url(settings: Settings, token: str) -> str:
    return settings.portal_url + token
