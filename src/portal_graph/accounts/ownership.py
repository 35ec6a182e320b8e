"""Who controls an account (docs/RULES.md), decided in one place for every way in.

An account is *proven* once its mailbox owner acted through the mailbox (an emailed invitation
link, a password reset). A password set any other way (a link an admin copied, the operator's
bootstrap) proves nothing: the account is usable in the organization it was set in, and joins
another organization only through the mailbox (the emailed link, or after a reset).

Joining an organization with an account that exists needs its person's consent: their own
signed-in session, or the current password. Through the emailed link, the mailbox owner of an
account that is not proven may instead set a new password: the account is taken back, and
every session and API token made with the old password ends.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Row

from portal_graph.auth.passwords import hash_password, password_weakness, verify_password
from portal_graph.problems import Rejected, UserErrorCode

WRONG_PASSWORD = "That password does not match your existing account."
NOT_PROVEN = ("Your account's password was set through a link that was not emailed to you. "
              "To join another organization, open the link from the invitation email, or "
              "reset your password first.")
CHOOSE = "Choose a password."


class PasswordChoice(enum.Enum):
    """What the holder of an invite link is asked for (and all it learns about the account)."""

    NEW_PASSWORD = "NEW_PASSWORD"  # no account, or one this emailed link takes back
    CURRENT_PASSWORD = "CURRENT_PASSWORD"  # a proven account: sign in, or its password
    NEW_OR_CURRENT = "NEW_OR_CURRENT"  # a copied link: whether an account exists is not said


def proven(person: Row[Any]) -> bool:
    return person.email_verified_at is not None


def usable_in(person: Row[Any], organization_id: uuid.UUID) -> bool:
    """Whether the account may join (or act in) the organization without proving its mailbox."""
    return proven(person) or person.password_set_in_organization_id == organization_id


def password_choice(person: Row[Any] | None, via_email: bool) -> PasswordChoice:
    if not via_email:
        return PasswordChoice.NEW_OR_CURRENT
    if person is None or not person.password_hash or not proven(person):
        return PasswordChoice.NEW_PASSWORD
    return PasswordChoice.CURRENT_PASSWORD


class Entry(enum.Enum):
    NEW_ACCOUNT = "NEW_ACCOUNT"  # no account had this email: the password is set now
    CONSENTED = "CONSENTED"  # the person's own session, or their current password
    TAKEN_BACK = "TAKEN_BACK"  # the mailbox owner replaced a password someone else set


@dataclass(frozen=True, slots=True)
class Admission:
    entry: Entry
    new_password_hash: str | None  # to store; None keeps the current one
    proven: bool  # the mailbox is proven by this entry (the emailed link)


async def new_password(password: str | None, email: str, field: str = "password") -> str:
    """The hash of an acceptable new password, or WEAK_PASSWORD saying why not."""
    if not password:
        raise Rejected(UserErrorCode.WEAK_PASSWORD, CHOOSE, field)
    weakness = password_weakness(password, email)
    if weakness:
        raise Rejected(UserErrorCode.WEAK_PASSWORD, weakness, field)
    return await hash_password(password)


async def admit(person: Row[Any] | None, organization_id: uuid.UUID, email: str, *,
                via_email: bool, signed_in: bool, password: str | None) -> Admission:
    """How the holder of an invitation link (to `organization_id`, for `email`) gets in, or
    why not. `signed_in`: the caller's own session is the person's (never an API token)."""
    if person is None:
        return Admission(Entry.NEW_ACCOUNT, await new_password(password, email), via_email)
    consented = signed_in or bool(password and person.password_hash
                                  and await verify_password(person.password_hash, password))
    if consented:
        if not (via_email or usable_in(person, organization_id)):
            raise Rejected(UserErrorCode.MAILBOX_NOT_PROVEN, NOT_PROVEN, "token")
        return Admission(Entry.CONSENTED, None, via_email)
    if via_email and not (person.password_hash and proven(person)):
        return Admission(Entry.TAKEN_BACK, await new_password(password, email), True)
    if not person.password_hash:
        await verify_password(None, password or "")  # the same work as a wrong password
    raise Rejected(UserErrorCode.INVALID_CREDENTIALS, WRONG_PASSWORD, "password")
