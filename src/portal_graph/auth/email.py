"""Email addresses: checked for shape and normalised for comparison (case-insensitive)."""

from __future__ import annotations

import re

# Deliberately simple: one @, a dot in the domain, no spaces; the real check is delivery.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def is_valid_email(email: str) -> bool:
    return len(email.strip()) <= 254 and bool(_EMAIL.match(email.strip()))
