"""What a viewer may do: one rule per power, read by the mutation that enforces it and by the
`viewerCan…` fields and `Viewer.capabilities` that announce it, so the two cannot disagree.

A `Rule` says which audiences hold a power and whether an API token may use it (PRODUCT.md 1a:
tokens cannot sign in, mint credentials or manage logins). Every mutation names its rule
(`graphql.audiences.mutation(rule=...)`): the rule's audiences shape the schemas and its
permission classes guard the field. The capability fields call `Rule.allows` on the same
object, and add the state checks the services make with the same functions (an invitation
that is no longer open cannot be resent, an archived customer cannot be invited to).

Whether a particular row is *visible* is not a capability: out of scope is NOT_FOUND (or null),
exactly like a row that does not exist, for every rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portal_graph.db import models
from portal_graph.scope import Audience, Viewer

_EVERYONE = frozenset(Audience)
_SIGNED_IN = frozenset({Audience.EXTERNAL, Audience.STAFF, Audience.ADMIN})
_STAFF = frozenset({Audience.STAFF, Audience.ADMIN})
_ADMIN = frozenset({Audience.ADMIN})


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    description: str
    audiences: frozenset[Audience]
    sessions_only: bool = False  # API tokens may not use it

    def allows(self, viewer: Viewer) -> bool:
        if viewer.audience not in self.audiences:
            return False
        return not (self.sessions_only and viewer.api_token_id is not None)


SIGN_IN = Rule("SIGN_IN", "Sign in, accept an invitation, reset a forgotten password.",
               _EVERYONE, sessions_only=True)
OWN_CREDENTIALS = Rule(
    "OWN_CREDENTIALS", "Sign out, switch organization, change your password and name, "
    "create and revoke your API tokens.", _SIGNED_IN, sessions_only=True)
EDIT_WORK = Rule("EDIT_WORK", "Create and correct customers, jobs, assets and map captures.",
                 _STAFF)
ARCHIVE_CUSTOMERS = Rule(
    "ARCHIVE_CUSTOMERS", "Archive a customer: it disappears from every external user's portal.",
    _ADMIN)
MANAGE_EXTERNAL_USERS = Rule(
    "MANAGE_EXTERNAL_USERS", "Invite external users, resend and cancel invitations, change and "
    "revoke their access.", _ADMIN)
MANAGE_STAFF = Rule("MANAGE_STAFF", "Invite staff, change their roles, deactivate them.",
                    _ADMIN, sessions_only=True)
CHANGE_SETTINGS = Rule("CHANGE_SETTINGS", "Change the organization's settings.", _ADMIN)

RULES = (SIGN_IN, OWN_CREDENTIALS, EDIT_WORK, ARCHIVE_CUSTOMERS, MANAGE_EXTERNAL_USERS,
         MANAGE_STAFF, CHANGE_SETTINGS)


# --- the state checks the services make, for the fields to make too ------------------------


def invitation_open(state: models.InvitationState) -> bool:
    """An invitation can be resent or cancelled while pending (expired ones included)."""
    return state is models.InvitationState.PENDING


def customer_open(archived_at: datetime | None) -> bool:
    """A customer can be invited to, or granted, until it is archived."""
    return archived_at is None
