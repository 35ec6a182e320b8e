"""argon2id password hashing at OWASP's floor (m=19 MiB, t=2, p=1: ~26 ms here), off the loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against for unknown emails, so that a wrong email costs what a wrong password does.
_DUMMY_HASH = _hasher.hash("portal-graph dummy password for timing")


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def password_weakness(password: str, email: str) -> str | None:
    """Why a new password is refused, in words for the person setting it; None when fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    lowered = password.strip().lower()
    if lowered == email.strip().lower() or lowered == email.split("@")[0].strip().lower():
        return "Your password must not be your email address."
    if len(set(password)) < 4:
        return "Use a password with more variety than repeated characters."
    return None
