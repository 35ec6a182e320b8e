"""Plain fields without per-field framework work: the execution's hot path.

A response of 500 jobs with their captures and assets completes some 12,000 fields and 26,000
values; per-field overhead, not SQL, is what such a request costs. Decided once per schema at
start-up instead of once per field:

- a field that only reads an attribute (no resolver, no extension such as a permission
  class; Strawberry marks its resolver `_is_default` either way) gets a one-line getattr
  resolver instead of Strawberry's three calls;
  when its type is a scalar or an enum, the executor below completes it without building a
  resolve info, looking up arguments or walking graphql-core's completion chain;
- nested connections get their own resolvers (pagination.resolve_nested_directly);
- graphql-core's `is_awaitable`, asked of every value, is answered once per type.

Anything unusual on the short path (a null for a non-null field, a value the scalar refuses)
goes the full way, which reports it exactly as before.

The executor subclasses graphql-core's public `Executor` (exported by `graphql.execution`),
overriding one method, `execute_field`, whose signature `check_graphql_core` verifies at
start-up together with the version range it was written and tested against
(tests/compiled/test_plain_fields.py compares it with graphql-core's own executor).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from types import GeneratorType
from typing import Any, TypeGuard

from graphql import (
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
)
from graphql.execution import Executor
from graphql.pyutils import is_awaitable as graphql_is_awaitable
from graphql.version import version_info

from portal_graph.graphql.core.pagination import resolve_nested_directly

_AWAITABLE: dict[type, bool] = {}
# The graphql-core versions whose `Executor.execute_field` this module's override matches.
SUPPORTED = ((3, 3, 2), (3, 4, 0))  # from, below
EXECUTE_FIELD = ["self", "parent_type", "source", "field_details_list", "path",
                 "position_context"]


def check_graphql_core() -> None:
    """Refuse to start on a graphql-core whose executor this module does not know."""
    version = (version_info.major, version_info.minor, version_info.micro)
    if not SUPPORTED[0] <= version < SUPPORTED[1]:
        raise RuntimeError(f"graphql-core {'.'.join(map(str, version))} is not supported by "
                           f"plain_fields (needs >= 3.3.2, < 3.4): check PlainFieldExecutor")
    parameters = list(inspect.signature(Executor.execute_field).parameters)
    if parameters != EXECUTE_FIELD:
        raise RuntimeError(f"graphql-core's Executor.execute_field changed: {parameters}")


def is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    kind = type(value)
    known = _AWAITABLE.get(kind)
    if known is None:
        if kind is GeneratorType:  # generator-based coroutines: ask each one
            return graphql_is_awaitable(value)
        known = _AWAITABLE[kind] = hasattr(kind, "__await__")
    return known


def install(schema: GraphQLSchema) -> None:
    """Give the schema's plain fields their short resolvers (once, at start-up)."""
    check_graphql_core()
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType):
            continue
        for graphql_field in type_.fields.values():
            definition = (graphql_field.extensions or {}).get("strawberry-definition")
            # A field with extensions (its permission class, above all) keeps Strawberry's
            # resolver, which runs them: Strawberry marks it `_is_default` all the same.
            if (definition is not None and not definition.extensions
                    and getattr(graphql_field.resolve, "_is_default", False)):
                graphql_field.resolve = _attribute(definition.python_name, graphql_field.type)
    resolve_nested_directly(schema)


def _attribute(name: str, output: Any) -> Any:
    def resolve(source: Any, info: Any) -> Any:
        return getattr(source, name)

    resolve._is_default = True  # type: ignore[attr-defined]
    non_null = isinstance(output, GraphQLNonNull)
    leaf = output.of_type if non_null else output
    if is_leaf_type(leaf):
        resolve.plain_leaf = (name, leaf, non_null)  # type: ignore[attr-defined]
    return resolve


class PlainFieldExecutor(Executor):  # type: ignore[type-arg]
    """graphql-core's executor, with a short path for attribute fields of a leaf type."""

    def execute_field(self, parent_type: GraphQLObjectType, source: Any,
                      field_details_list: Any, path: Any, position_context: Any) -> Any:
        field_def = parent_type.fields.get(field_details_list[0].node.name.value)
        plain = getattr(field_def.resolve, "plain_leaf", None) if field_def else None
        if plain is not None:
            name, leaf, non_null = plain
            leaf_type: GraphQLLeafType = leaf
            try:
                value = getattr(source, name)
                if value is None:
                    if not non_null:
                        return None
                else:
                    serialized = leaf_type.coerce_output_value(value)
                    if serialized is not None and serialized is not Undefined:
                        return serialized
            except Exception:  # the full path below reports it, located
                pass
        return super().execute_field(parent_type, source, field_details_list, path,
                                     position_context)
