"""What the external-users domain adds to the schema: root fields and node kinds.

It brings along its two neighbours, invitations and the audit log, which exist for it.
"""

from __future__ import annotations

from typing import Any

from portal_graph.audit.loaders import AuditEventByIdLoader
from portal_graph.audit.queries import AuditQueries
from portal_graph.audit.types import AuditEvent
from portal_graph.external_users.loaders import ExternalUserByIdLoader
from portal_graph.external_users.mutations import ExternalUserMutations
from portal_graph.external_users.queries import ExternalUserQueries
from portal_graph.external_users.types import ExternalUser
from portal_graph.invitations.loaders import InvitationByIdLoader
from portal_graph.invitations.mutations import InvitationMutations
from portal_graph.invitations.queries import InvitationQueries
from portal_graph.invitations.types import Invitation

EXTERNAL_USER_QUERIES: tuple[type, ...] = (ExternalUserQueries, InvitationQueries, AuditQueries)
EXTERNAL_USER_MUTATIONS: tuple[type, ...] = (InvitationMutations, ExternalUserMutations)
# type name -> (strawberry type, its by-id loader, its constructor from a row)
EXTERNAL_USER_NODES: dict[str, tuple[Any, Any, Any]] = {
    "ExternalUser": (ExternalUser, ExternalUserByIdLoader, ExternalUser.from_row),
    "Invitation": (Invitation, InvitationByIdLoader, Invitation.from_row),
    "AuditEvent": (AuditEvent, AuditEventByIdLoader, AuditEvent.from_row),
}
