"""`Viewer.capabilities`: what the signed-in viewer may do here, for an app to show the buttons
that work and hide the others. Every answer is `Rule.allows` of the rule the mutation itself
enforces (capabilities.py), so a capability and the mutation's outcome cannot disagree."""

from __future__ import annotations

from functools import cache
from typing import Any

import strawberry

from portal_graph import capabilities
from portal_graph.capabilities import Rule
from portal_graph.graphql.core.audiences import SIGNED_IN, STAFF, audience, field, rule_of
from portal_graph.graphql.core.context import Info
from portal_graph.scope import Viewer as ViewerState


def mutation_rules(schema: Any) -> tuple[tuple[str, Rule], ...]:
    """(GraphQL name, rule) of every mutation of the schema's root type, by name. The root
    type is the whole `Mutation` class in every audience's schema (audiences filter its fields
    only when the schema is built), so every rule is here, whoever asks."""
    return _rules(schema.mutation, schema.config.name_converter)


@cache
def _rules(mutation: Any, names: Any) -> tuple[tuple[str, Rule], ...]:
    definition = mutation.__strawberry_definition__
    return tuple(sorted((names.get_graphql_name(f), rule_of(f)) for f in definition.fields))


def _staff_may(rule: Rule) -> Any:
    """A staff field that answers whether the viewer passes `rule`, described as the rule is."""

    def allows(self: ViewerCapabilities) -> bool:
        return rule.allows(self.state)

    return field(allows, audiences=STAFF, description=rule.description)


@audience(SIGNED_IN)
@strawberry.type(description=(
    "What you may do in this organization: the rules the mutations enforce. A mutation you may "
    "call can still answer userErrors about the objects you name (not found, stale, ...)."))
class ViewerCapabilities:
    state: strawberry.Private[ViewerState]

    @field(audiences=SIGNED_IN, guard=False, description=(
        "The mutations you may call, by name (`updateJob`, ...)."))
    def allowed_mutations(self, info: Info) -> list[str]:
        return [name for name, rule in mutation_rules(info.schema)
                if rule.allows(self.state)]

    @field(audiences=SIGNED_IN, guard=False, description=(
        "Sign out, switch organization, change your password and name, manage your API "
        "tokens (not with an API token)."))
    def manage_own_credentials(self) -> bool:
        return capabilities.OWN_CREDENTIALS.allows(self.state)

    edit_work = _staff_may(capabilities.EDIT_WORK)
    archive_customers = _staff_may(capabilities.ARCHIVE_CUSTOMERS)
    manage_external_users = _staff_may(capabilities.MANAGE_EXTERNAL_USERS)
    manage_staff = _staff_may(capabilities.MANAGE_STAFF)
    change_settings = _staff_may(capabilities.CHANGE_SETTINGS)
