"""Business outcomes that are not successes: one error type, one code enum.

Services raise `Rejected`; the GraphQL layer turns it into `userErrors` and rolls the
mutation's writes back, so nothing is written on bad input.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class UserErrorCode(enum.Enum):
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    NO_COMPANY_SELECTED = "NO_COMPANY_SELECTED"
    INVALID_EMAIL = "INVALID_EMAIL"
    INTERNAL_MEMBER = "INTERNAL_MEMBER"
    EXTERNAL_USER = "EXTERNAL_USER"
    ALREADY_MEMBER = "ALREADY_MEMBER"
    DUPLICATE_EMAIL = "DUPLICATE_EMAIL"
    DUPLICATE_REFERENCE = "DUPLICATE_REFERENCE"
    INVITATION_NOT_PENDING = "INVITATION_NOT_PENDING"
    INVITATION_EXPIRED = "INVITATION_EXPIRED"
    INVITATION_INVALID = "INVITATION_INVALID"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    ORGANIZATION_REQUIRED = "ORGANIZATION_REQUIRED"
    RATE_LIMITED = "RATE_LIMITED"
    MAILBOX_NOT_PROVEN = "MAILBOX_NOT_PROVEN"
    LAST_ADMIN = "LAST_ADMIN"
    INVALID_TOKEN = "INVALID_TOKEN"
    INVALID_GEOMETRY = "INVALID_GEOMETRY"
    # Someone changed the object since the client read it (its `updatedAt` moved on).
    STALE_OBJECT = "STALE_OBJECT"
    CUSTOMER_ARCHIVED = "CUSTOMER_ARCHIVED"


@dataclass(frozen=True, slots=True)
class Problem:
    code: UserErrorCode
    message: str
    field: tuple[str, ...] | None = None


class Rejected(Exception):
    def __init__(self, code: UserErrorCode, message: str,
                 field: Sequence[str] | str | None = None) -> None:
        if isinstance(field, str):
            field = (field,)
        self.problems = [Problem(code, message, tuple(field) if field else None)]
        super().__init__(message)

    @classmethod
    def many(cls, problems: Sequence[Problem]) -> Rejected:
        error = cls(problems[0].code, problems[0].message, problems[0].field)
        error.problems = list(problems)
        return error


def not_found(what: str, field: Sequence[str] | str | None = None) -> Rejected:
    return Rejected(UserErrorCode.NOT_FOUND, f"{what} not found", field)


def stale(what: str) -> Rejected:
    return Rejected(UserErrorCode.STALE_OBJECT,
                    f"This {what} was changed by someone else since you read it: read it again "
                    "and reapply your change.", "expectedUpdatedAt")


def invalid(message: str, field: Sequence[str] | str | None = None) -> Rejected:
    return Rejected(UserErrorCode.INVALID_INPUT, message, field)
