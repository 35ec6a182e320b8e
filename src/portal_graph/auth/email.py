"""Email addresses: the one strict parser every address entering the system goes through.

An address is exactly one plain `local@domain` (docs/RULES.md): no display name, no list, no
quoting, no IP literal, no control or invisible character, and an ASCII local part, so that
look-alikes (a dotless i, a zero-width space, full-width letters) are refused rather than
counted as new people. The domain may be internationalised; it is compared in its IDNA form.
Syntax only: no DNS lookup at request time. `.test` domains are accepted (tests and demos use
them); the other reserved names (`.local`, `.localhost`, `.invalid`, `.onion`) are not.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from portal_graph.problems import Rejected, UserErrorCode

MAX_LENGTH = 254
# Control, format (zero-width, bidi), separator, surrogate, private-use and unassigned.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class InvalidEmail(ValueError):
    """Not one plain address; the message says why, in words for the person typing it."""


@dataclass(frozen=True, slots=True)
class Email:
    address: str  # as it is stored and shown: the domain lower-cased and IDNA-normalised
    key: str  # what identifies the person: NFKC, case-folded, domain in its ASCII form


def parse_email(raw: str) -> Email:
    """The address in `raw` (surrounding spaces ignored), or InvalidEmail."""
    text = raw.strip()
    if not text or len(text) > MAX_LENGTH:
        raise InvalidEmail("Enter one email address.")
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES or c.isspace() for c in text):
        raise InvalidEmail("An email address cannot contain spaces or invisible characters.")
    try:
        checked = validate_email(
            text, check_deliverability=False, allow_smtputf8=False, allow_display_name=False,
            allow_quoted_local=False, allow_domain_literal=False, allow_empty_local=False,
            strict=True,  # RFC 5321 lengths too (a local part of at most 64 characters)
            test_environment=True)
    except EmailNotValidError as error:
        raise InvalidEmail(str(error)) from None
    return Email(address=checked.normalized,
                 key=unicodedata.normalize("NFKC", checked.ascii_email or "").casefold())


def email_key(raw: str) -> str | None:
    """The comparison key of `raw`, or None when it is not an address (nobody has it)."""
    try:
        return parse_email(raw).key
    except InvalidEmail:
        return None


def parse_or_reject(raw: str, field: str = "email") -> Email:
    """The address in `raw`, or an INVALID_EMAIL business error on `field`."""
    try:
        return parse_email(raw)
    except InvalidEmail as error:
        raise Rejected(UserErrorCode.INVALID_EMAIL, str(error), field) from None
