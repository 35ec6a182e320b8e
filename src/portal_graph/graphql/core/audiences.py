"""Audiences: every field declares who may see it; each audience gets a schema of its own.

A field's audiences come from its own declaration (`field(audiences=...)`) or from its type's
(`@audience(...)` on the class). A field with neither is a bug that a test finds by walking the
schema. Per audience, a schema is built once at start-up holding only the fields that audience
may use, so introspection shows exactly that and a query naming anything else is refused at
validation, before any resolver or SQL runs (the way Hasura shapes its schema per role).

What the refusal says depends on who asks. Staff, who know the product, are told that a field
is for administrators (FORBIDDEN). Anonymous callers and external users get exactly what a name
that does not exist gets: for them the hidden schema does not exist, and errors cannot be
used to list it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
)
from graphql.validation import FieldsOnCorrectTypeRule, KnownTypeNamesRule, ValidationContext
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from portal_graph.capabilities import Rule
from portal_graph.graphql.core.permissions import IsAdmin, IsAuthenticated, IsStaff, NotByApiToken
from portal_graph.scope import Audience

AudienceSet = frozenset[Audience]
EVERYONE: AudienceSet = frozenset(Audience)
SIGNED_IN: AudienceSet = frozenset({Audience.EXTERNAL, Audience.STAFF, Audience.ADMIN})
STAFF: AudienceSet = frozenset({Audience.STAFF, Audience.ADMIN})
ADMIN: AudienceSet = frozenset({Audience.ADMIN})
ANONYMOUS_ONLY: AudienceSet = frozenset({Audience.ANONYMOUS})

AUDIENCES_KEY = "audiences"
RULE_KEY = "capability_rule"
T = TypeVar("T")


def _permissions_for(audiences: AudienceSet) -> list[type[strawberry.BasePermission]]:
    """Defence in depth behind the shaped schemas; only where a field narrows its audience."""
    if audiences <= ADMIN:
        return [IsAdmin]
    if audiences <= STAFF:
        return [IsStaff]
    if Audience.ANONYMOUS not in audiences:
        return [IsAuthenticated]
    return []


def _declared(make: Callable[..., Any], resolver: Callable[..., Any] | None,
              audiences: AudienceSet, permissions: list[type[strawberry.BasePermission]],
              kwargs: dict[str, Any]) -> Any:
    """`make` (strawberry's field, mutation or subscription) with its audiences in the metadata
    and `permissions` after the permission classes it was given."""
    kwargs.setdefault("metadata", {})[AUDIENCES_KEY] = audiences
    if permissions:
        kwargs["permission_classes"] = [*kwargs.get("permission_classes", []), *permissions]
    if resolver is None:
        return make(**kwargs)
    return make(resolver, **kwargs)


def field(resolver: Callable[..., Any] | None = None, *, audiences: AudienceSet,
          guard: bool = True, **kwargs: Any) -> Any:
    """`strawberry.field` that declares its audience (and, by default, guards it)."""
    permissions = _permissions_for(audiences) if guard else []
    return _declared(strawberry.field, resolver, audiences, permissions, kwargs)


def mutation(resolver: Callable[..., Any] | None = None, *, rule: Rule | None = None,
             audiences: AudienceSet | None = None, **kwargs: Any) -> Any:
    """`strawberry.mutation` that enforces a capability rule (capabilities.py): the rule's
    audiences shape the schemas and guard the field, and API tokens are refused where the rule
    says so. The `viewerCan…` fields read the same rule (`rule_of`). `audiences` alone is the
    older form, for a mutation no capability field announces."""
    if rule is not None:
        audiences = rule.audiences
        if rule.sessions_only:
            kwargs["permission_classes"] = [*kwargs.get("permission_classes", []),
                                            NotByApiToken]
    assert audiences is not None, "a mutation declares its rule (or its audiences)"
    kwargs.setdefault("metadata", {})[RULE_KEY] = rule
    return _declared(strawberry.mutation, resolver, audiences, _permissions_for(audiences),
                     kwargs)


def subscription(resolver: Callable[..., Any] | None = None, *, audiences: AudienceSet,
                 **kwargs: Any) -> Any:
    """`strawberry.subscription` that declares its audience (and guards it)."""
    return _declared(strawberry.subscription, resolver, audiences, _permissions_for(audiences),
                     kwargs)


def audience(audiences: AudienceSet) -> Callable[[type[T]], type[T]]:
    """Class decorator: the default audience of every field of a type."""

    def decorate(cls: type[T]) -> type[T]:
        cls.__audiences__ = audiences  # type: ignore[attr-defined]
        return cls

    return decorate


def rule_of(field_: StrawberryField) -> Rule:
    """The capability rule a mutation enforces: the one it names, or, for one declared by its
    audiences alone, the rule those audiences and its permission classes make."""
    metadata: dict[str, Any] = dict(field_.metadata or {})
    if metadata.get(RULE_KEY) is not None:
        return metadata[RULE_KEY]  # type: ignore[no-any-return]
    return Rule(field_.python_name, "declared by its audiences", metadata[AUDIENCES_KEY],
                sessions_only=NotByApiToken in field_.permission_classes)


def field_audiences(type_definition: StrawberryObjectDefinition,
                    field_: StrawberryField) -> AudienceSet | None:
    declared = field_.metadata.get(AUDIENCES_KEY) if field_.metadata else None
    if declared is not None:
        return declared  # type: ignore[no-any-return]
    for cls in getattr(type_definition.origin, "__mro__", ()):
        if "__audiences__" in vars(cls):
            return vars(cls)["__audiences__"]  # type: ignore[no-any-return]
    return None


class AudienceSchema(strawberry.Schema):
    """A schema holding only the fields `audience` may use (None: the full schema)."""

    def __init__(self, *args: Any, audience: Audience | None, **kwargs: Any) -> None:
        self.audience = audience  # read by get_fields while the schema is being built
        super().__init__(*args, **kwargs)

    def get_fields(self, type_definition: StrawberryObjectDefinition) -> list[StrawberryField]:
        if self.audience is None or type_definition.is_input:
            return type_definition.fields
        return [f for f in type_definition.fields
                if self.audience in (field_audiences(type_definition, f) or ())]


# The audiences told that a part of the schema exists but is not theirs.
TOLD_WHAT_IS_HIDDEN: AudienceSet = STAFF
FORBIDDEN = "FORBIDDEN"
ADMINS_ONLY = "is for administrators only"


def forbidden_type_rule(full_schema: GraphQLSchema) -> type:
    """Validation for staff: a type that exists but is an administrator's (say, the input type
    of an admin mutation named in a variable) is FORBIDDEN, with a message that says so."""

    class TypesForAudienceRule(KnownTypeNamesRule):
        def enter_named_type(self, node: Any, *args: Any) -> None:
            name = node.name.value
            if self.context.schema.get_type(name) is None and full_schema.get_type(name):  # type: ignore[union-attr]
                self.report_error(GraphQLError(f"Type '{name}' {ADMINS_ONLY}.", node,
                                               extensions={"code": FORBIDDEN}))
                return
            super().enter_named_type(node, *args)

    return TypesForAudienceRule


def forbidden_field_rule(full_schema: GraphQLSchema) -> type:
    """Validation for staff: a field that exists but is an administrator's is FORBIDDEN, with
    a message that says so; unknown fields stay as they are."""

    class FieldsForAudienceRule(FieldsOnCorrectTypeRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)

        def enter_field(self, node: FieldNode, *args: Any) -> None:
            parent = self.context.get_parent_type()  # the audience schema's view
            if parent is not None and self.context.get_field_def() is None:
                full_type = full_schema.get_type(parent.name)
                if (isinstance(full_type, GraphQLObjectType | GraphQLInterfaceType)
                        and node.name.value in full_type.fields):
                    self.report_error(GraphQLError(
                        f"Field '{node.name.value}' on type '{parent.name}' {ADMINS_ONLY}.",
                        node, extensions={"code": FORBIDDEN}))
                    return
            super().enter_field(node, *args)

    return FieldsForAudienceRule
