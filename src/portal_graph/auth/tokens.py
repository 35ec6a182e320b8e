"""Opaque bearer tokens: 256 bits from the CSPRNG, URL-safe, only their SHA-256 stored.

A prefix says what kind of credential a token is (as GitHub's `ghp_` does), so a leaked one
is recognisable and the lookup goes straight to the right table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SESSION_PREFIX = "pgs_"
API_TOKEN_PREFIX = "pgt_"
RESET_PREFIX = "pgr_"  # password-reset links
INVITATION_PREFIX = ""  # invite links carry the bare token


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def digests_match(stored: bytes, token: str) -> bool:
    return hmac.compare_digest(stored, token_digest(token))
