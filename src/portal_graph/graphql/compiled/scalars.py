"""A scalar's output coercion, chosen once per planned field: graphql-core's own function.

graphql-core completes a leaf with `coerce_output_value` and refuses a None or Undefined
result; the specified scalars and enums never return one (they return a value or raise), so
they are called directly. A custom scalar's function (Strawberry's DateTime, Decimal, JSON)
is wrapped to refuse what graphql-core refuses: the plan then falls back to graphql-core,
which reports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLEnumType, GraphQLLeafType, Undefined, specified_scalar_types

Serializer = Callable[[Any], Any]


class Refused(Exception):
    """A value graphql-core would report as an error: the operation goes to graphql-core."""


def serializer_for(leaf: GraphQLLeafType) -> Serializer:
    coerce: Serializer = leaf.coerce_output_value
    if isinstance(leaf, GraphQLEnumType) or specified_scalar_types.get(leaf.name) is leaf:
        return coerce

    def checked(value: Any) -> Any:
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Refused(leaf.name)
        return coerced

    return checked


def is_textual(leaf: GraphQLLeafType) -> bool:
    """String and ID give a `str` back unchanged: the plan skips the call for one."""
    return specified_scalar_types.get(leaf.name) is leaf and leaf.name in ("String", "ID")
