"""The shape each audience's schema must have, derived from the declarations alone.

`declared_audiences` reads every field of every object type and interface of the full schema
back to its Strawberry definition and asks `audiences.field_audiences` who may use it (None:
nobody declared anything, a bug). `expected_shape` then walks the full schema from the root
types, following only the fields an audience may use (and the node types it may fetch), and
returns the types and fields that audience's schema must hold: no more, no less.
"""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)

from portal_graph.graphql.core.audiences import AudienceSet, field_audiences
from portal_graph.graphql.schema import NODE_KINDS, full_schema
from portal_graph.scope import Audience

DEFINITION = "strawberry-definition"  # where Strawberry keeps the definition of a core type


def declared_audiences(
        schema: GraphQLSchema | None = None) -> dict[tuple[str, str], AudienceSet | None]:
    """(type, field) -> its declared audiences, for every object type and interface of
    `schema` (default: the full schema)."""
    declared: dict[tuple[str, str], AudienceSet | None] = {}
    for name, type_ in (schema or full_schema()._schema).type_map.items():
        if name.startswith("__") or not isinstance(type_, GraphQLObjectType
                                                   | GraphQLInterfaceType):
            continue
        definition = (type_.extensions or {}).get(DEFINITION)
        for field_name, field_ in type_.fields.items():
            strawberry_field = (field_.extensions or {}).get(DEFINITION)
            declared[(name, field_name)] = (
                field_audiences(definition, strawberry_field)
                if definition is not None and strawberry_field is not None else None)
    return declared


def expected_shape(audience: Audience) -> dict[str, set[str]]:
    """Type name -> field names (input fields for inputs, values for enums) in `audience`'s
    schema; scalars are left out (graphql-core adds String and Boolean to every schema)."""
    schema = full_schema()._schema
    declared = declared_audiences()
    shape: dict[str, set[str]] = {}
    # Anonymous callers have no Subscription type at all (graphql/schema.py).
    live = schema.subscription_type if audience is not Audience.ANONYMOUS else None
    start = [schema.query_type, schema.mutation_type, live,
             *(schema.type_map[name] for name, kind in NODE_KINDS.items()
               if audience in kind.type_.__audiences__)]
    pending: list[GraphQLNamedType] = [t for t in start if t is not None]
    while pending:
        type_ = pending.pop()
        if type_.name in shape:
            continue
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            fields = {name: field_ for name, field_ in type_.fields.items()
                      if audience in (declared[(type_.name, name)] or ())}
            shape[type_.name] = set(fields)
            for field_ in fields.values():
                pending.append(get_named_type(field_.type))
                pending.extend(get_named_type(arg.type) for arg in field_.args.values())
            if isinstance(type_, GraphQLObjectType):
                pending.extend(type_.interfaces)
        elif isinstance(type_, GraphQLInputObjectType):
            shape[type_.name] = set(type_.fields)
            pending.extend(get_named_type(f.type) for f in type_.fields.values())
        elif isinstance(type_, GraphQLEnumType):
            shape[type_.name] = set(type_.values)
    return shape
