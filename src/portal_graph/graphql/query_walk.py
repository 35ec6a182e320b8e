"""The one walk that measures an operation against its limits: depth, aliases, `first`, cost,
fields per selection set and repeated names, with fragments expanded in place."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    VariableNode,
    get_named_type,
)

from portal_graph.graphql.budgets import LimitCode, QueryLimits, limit_error

# A selection set to visit: its parent type, depth, weight, the fragments it sits in, and the
# selection set it merges into (a field's own, or its parent's for fragments).
_Entry = tuple[SelectionSetNode, GraphQLNamedType | None, int, int, frozenset[str], int]


@dataclass(eq=False)
class OperationCheck:
    """Walks an operation with its fragments expanded inline, iteratively; first breach wins.

    Expanding (rather than memoising fragments) is what makes aliases and cost count once
    per place a fragment is spread: the bypass of CVE-2026-47707. One walk checks every
    limit, so a hostile document is walked once; the visit budget (twice the cost limit,
    since every field visit adds at least 1 to the cost) ends fragment bombs whose
    fragments hold spreads and few fields. After a walk that passed, `cost` is the
    operation's cost.
    """

    schema: GraphQLSchema
    get_fragment: Callable[[str], FragmentDefinitionNode | None]
    limits: QueryLimits
    variables: Mapping[str, Any]
    operation: OperationDefinitionNode

    def __post_init__(self) -> None:
        self.defaults = _variable_defaults(self.operation)
        self.cost = 0

    def run(self) -> GraphQLError | None:
        limits, schema, operation = self.limits, self.schema, self.operation
        budget, cap = 2 * limits.max_cost, limits.max_cost + 1
        cost = aliases = visits = merged_sets = 0
        selections: dict[int, int] = {}  # merged selection set -> fields in it
        names: dict[tuple[int, str], int] = {}  # (merged selection set, response name) -> n
        stack: list[_Entry] = [
            (operation.selection_set, schema.get_root_type(operation.operation), 1, 1,
             frozenset(), merged_sets)
        ]
        while stack:
            selection_set, parent, depth, weight, fragments_above, merged = stack.pop()
            for selection in selection_set.selections:
                visits += 1
                if visits > budget:
                    return self.too_costly()
                if isinstance(selection, FieldNode):
                    if depth > limits.max_depth:
                        message = f"Query is too deep: more than {limits.max_depth} levels."
                        return limit_error(LimitCode.QUERY_TOO_DEEP, message, selection)
                    if selection.alias is not None:
                        aliases += 1
                        if aliases > limits.max_aliases:
                            message = f"Query uses more than {limits.max_aliases} aliases."
                            return limit_error(LimitCode.TOO_MANY_ALIASES, message, selection)
                    crowded = self.crowding(selection, merged, selections, names)
                    if crowded is not None:
                        return crowded
                    definition = _field_definition(schema, parent, selection.name.value)
                    first = _first_argument(selection, definition, self.variables, self.defaults)
                    if first is not None and not 0 <= first <= limits.max_first:
                        message = f"Argument 'first' must be between 0 and {limits.max_first}."
                        return limit_error(LimitCode.FIRST_OUT_OF_RANGE, message, selection)
                    cost += weight
                    if cost > limits.max_cost:
                        return self.too_costly()
                    if selection.selection_set is not None:
                        child = get_named_type(definition.type) if definition else None
                        page = self.page_size(definition, parent, first)
                        merged_sets += 1
                        # Capped: past the limit the exact weight no longer matters.
                        stack.append((selection.selection_set, child, depth + 1,
                                      min(weight * page, cap), fragments_above, merged_sets))
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    scope = schema.get_type(condition.name.value) if condition else parent
                    stack.append((selection.selection_set, scope, depth, weight,
                                  fragments_above, merged))
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.get_fragment(name)
                    # A cycle is NoFragmentCyclesRule's to report; here it just ends.
                    if fragment is None or name in fragments_above:
                        continue
                    scope = schema.get_type(fragment.type_condition.name.value)
                    stack.append((fragment.selection_set, scope, depth, weight,
                                  fragments_above | {name}, merged))
        self.cost = cost
        return None

    def crowding(self, field: FieldNode, merged: int, selections: dict[int, int],
                 names: dict[tuple[int, str], int]) -> GraphQLError | None:
        """Count a field into the selection set it merges into (its fragments' fields merge
        into the same one); an error when that set holds too many fields, or one response
        name too often."""
        limits = self.limits
        selections[merged] = held = selections.get(merged, 0) + 1
        if held > limits.max_selections:
            message = f"A selection set holds more than {limits.max_selections} fields."
            return limit_error(LimitCode.TOO_MANY_SELECTIONS, message, field)
        name = (field.alias or field.name).value
        names[merged, name] = repeated = names.get((merged, name), 0) + 1
        if repeated > limits.max_repeated_fields:
            message = (f"'{name}' is selected more than {limits.max_repeated_fields} times in "
                       "one selection set.")
            return limit_error(LimitCode.TOO_MANY_REPEATED_FIELDS, message, field)
        return None

    def too_costly(self) -> GraphQLError:
        message = f"Query is too costly: its cost exceeds {self.limits.max_cost}."
        return limit_error(LimitCode.QUERY_TOO_COSTLY, message, self.operation)

    def page_size(
        self, definition: GraphQLField | None, parent: GraphQLNamedType | None, first: int | None
    ) -> int:
        """How many times a field's children run: its `first`, for lists and connections."""
        if definition is None or parent is None:
            return 1
        # Introspection lists are bounded by the schema (and by graphql-core's
        # MaxIntrospectionDepthRule); weighting them would refuse GraphiQL's own query.
        # Inside a connection the page size is already counted: `edges` is not a new page.
        if parent.name.startswith("__") or parent.name.endswith("Connection"):
            return 1
        if not _is_paged(definition):
            return 1
        if first is None:
            return self.limits.max_first
        # 0 still costs its children once: the document was sent and validated anyway.
        return max(first, 1)


def _field_definition(
    schema: GraphQLSchema, parent: GraphQLNamedType | None, name: str
) -> GraphQLField | None:
    if name == "__typename":
        return TypeNameMetaFieldDef
    if parent is not None and parent is schema.query_type:
        if name == "__schema":
            return SchemaMetaFieldDef
        if name == "__type":
            return TypeMetaFieldDef
    fields = getattr(parent, "fields", None)  # objects and interfaces; unions have none
    return fields.get(name) if fields is not None else None


def _is_paged(definition: GraphQLField) -> bool:
    output: GraphQLOutputType = definition.type
    if isinstance(output, GraphQLNonNull):
        output = output.of_type
    return (
        isinstance(output, GraphQLList)
        or "first" in definition.args
        or (isinstance(output, GraphQLObjectType) and output.name.endswith("Connection"))
    )


def _variable_defaults(operation: OperationDefinitionNode) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        value = definition.default_value
        if isinstance(value, IntValueNode):
            defaults[definition.variable.name.value] = int(value.value)
    return defaults


def _first_argument(
    node: FieldNode,
    definition: GraphQLField | None,
    variables: Mapping[str, Any],
    defaults: Mapping[str, Any],
) -> int | None:
    """The `first` a field will run with, from a literal, a variable or a default.

    None when absent or not an integer: a wrong type is for coercion to refuse, not us.
    """
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            name = value.name.value
            raw = variables[name] if name in variables else defaults.get(name)
            return _as_int(raw)
        return None  # null, or a wrong literal type
    if definition is not None and "first" in definition.args:
        return _as_int(definition.args["first"].default_value)
    return None


def _as_int(raw: Any) -> int | None:
    if isinstance(raw, bool):  # bool is an int to Python, not to GraphQL
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return None


