"""Query limits: a parse guard and validation rules that refuse hostile documents cheaply.

Order matters for cost: `parse_document` caps the token count before any AST exists, then
`validate_limits` runs these checks alone, before graphql-core's specified rules (some are
quadratic in repeated fields). `limit_rules` offers the same checks as rule classes for a
single `graphql.validate` pass. Every walk is iterative, bounded by a visit budget and stops
at the first limit crossed, so a hostile document costs little more than its parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from graphql import (
    BREAK,
    SKIP,
    DirectiveNode,
    DocumentNode,
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
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    Node,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    VariableNode,
    get_named_type,
    parse,
)
from graphql.validation import ASTValidationRule, ValidationRule


class LimitCode(StrEnum):
    QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
    QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
    TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
    TOO_MANY_DIRECTIVES = "TOO_MANY_DIRECTIVES"
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
    FIRST_OUT_OF_RANGE = "FIRST_OUT_OF_RANGE"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"


@dataclass(frozen=True)
class QueryLimits:
    """The same defaults as the settings (QUERY_MAX_*), which is where the app takes them from."""

    max_depth: int = 15  # the standard introspection query needs 15
    max_aliases: int = 30
    max_tokens: int = 1000
    max_cost: int = 50_000
    max_first: int = 100
    max_directives: int = 50


def _error(code: LimitCode, message: str, nodes: Any = None) -> GraphQLError:
    return GraphQLError(message, nodes, extensions={"code": code.value})


# --- parse guard ---------------------------------------------------------------------------

# graphql-core's wording of its parse aborts (3.3, after "Syntax Error: "); if it changes,
# the refusal stands, coded GRAPHQL_PARSE_FAILED.
_TOO_MANY_TOKENS = "Document contains more than"
_NESTED_TOO_DEEPLY = "Document is nested too deeply"


def parse_document(query: str, limits: QueryLimits) -> DocumentNode:
    """Parse with a token cap; raise a `GraphQLError` carrying an `extensions.code`.

    `max_tokens` (not `max_lexical_tokens`) on purpose: it also counts comments, so a
    comment-padded document cannot slip past the cap.
    """
    try:
        return parse(query, max_tokens=limits.max_tokens)
    except GraphQLSyntaxError as error:
        if _TOO_MANY_TOKENS in error.message:
            code = LimitCode.QUERY_TOO_LARGE
            message = f"Query is too large: more than {limits.max_tokens} tokens."
        elif _NESTED_TOO_DEEPLY in error.message:
            code, message = LimitCode.QUERY_TOO_DEEP, "Query is nested too deeply."
        else:
            code, message = LimitCode.GRAPHQL_PARSE_FAILED, error.message
        raise GraphQLError(message, source=error.source, positions=error.positions,
                           extensions={"code": code.value}) from None


# --- one walk per operation: depth, aliases, `first` and cost --------------------------------

# A selection set to visit: its parent type, depth, weight and the fragments it sits in.
_Entry = tuple[SelectionSetNode, GraphQLNamedType | None, int, int, frozenset[str]]


class _OperationCheck:
    """Walks an operation with its fragments expanded inline, iteratively; first breach wins.

    Expanding (rather than memoising fragments) is what makes aliases and cost count once
    per place a fragment is spread: the bypass of CVE-2026-47707. One walk checks every
    limit, so a hostile document is walked once; the visit budget (twice the cost limit,
    since every field visit adds at least 1 to the cost) ends fragment bombs whose
    fragments hold spreads and few fields.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        get_fragment: Callable[[str], FragmentDefinitionNode | None],
        limits: QueryLimits,
        variables: Mapping[str, Any],
        operation: OperationDefinitionNode,
    ) -> None:
        self.schema = schema
        self.get_fragment = get_fragment
        self.limits = limits
        self.variables = variables
        self.operation = operation
        self.defaults = _variable_defaults(operation)

    def run(self) -> GraphQLError | None:
        limits, schema, operation = self.limits, self.schema, self.operation
        budget, cap = 2 * limits.max_cost, limits.max_cost + 1
        cost = aliases = visits = 0
        stack: list[_Entry] = [
            (operation.selection_set, schema.get_root_type(operation.operation), 1, 1,
             frozenset())
        ]
        while stack:
            selection_set, parent, depth, weight, fragments_above = stack.pop()
            for selection in selection_set.selections:
                visits += 1
                if visits > budget:
                    return self.too_costly()
                if isinstance(selection, FieldNode):
                    if depth > limits.max_depth:
                        message = f"Query is too deep: more than {limits.max_depth} levels."
                        return _error(LimitCode.QUERY_TOO_DEEP, message, selection)
                    if selection.alias is not None:
                        aliases += 1
                        if aliases > limits.max_aliases:
                            message = f"Query uses more than {limits.max_aliases} aliases."
                            return _error(LimitCode.TOO_MANY_ALIASES, message, selection)
                    definition = _field_definition(schema, parent, selection.name.value)
                    first = _first_argument(selection, definition, self.variables, self.defaults)
                    if first is not None and not 0 <= first <= limits.max_first:
                        message = f"Argument 'first' must be between 0 and {limits.max_first}."
                        return _error(LimitCode.FIRST_OUT_OF_RANGE, message, selection)
                    cost += weight
                    if cost > limits.max_cost:
                        return self.too_costly()
                    if selection.selection_set is not None:
                        child = get_named_type(definition.type) if definition else None
                        page = self.page_size(definition, parent, first)
                        # Capped: past the limit the exact weight no longer matters.
                        stack.append((selection.selection_set, child, depth + 1,
                                      min(weight * page, cap), fragments_above))
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    scope = schema.get_type(condition.name.value) if condition else parent
                    stack.append((selection.selection_set, scope, depth, weight,
                                  fragments_above))
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.get_fragment(name)
                    # A cycle is NoFragmentCyclesRule's to report; here it just ends.
                    if fragment is None or name in fragments_above:
                        continue
                    scope = schema.get_type(fragment.type_condition.name.value)
                    stack.append((fragment.selection_set, scope, depth, weight,
                                  fragments_above | {name}))
        return None

    def too_costly(self) -> GraphQLError:
        message = f"Query is too costly: its cost exceeds {self.limits.max_cost}."
        return _error(LimitCode.QUERY_TOO_COSTLY, message, self.operation)

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


# --- rules ---------------------------------------------------------------------------------


def limit_rules(
    limits: QueryLimits, variables: Mapping[str, Any] | None = None
) -> list[type[ASTValidationRule]]:
    """Rule classes bound to these limits and this request's (raw, uncoerced) variables.

    Built per request because the cost and range of `first` depend on the variables.
    Each rule reports at most one error (the first limit crossed) and then stops visiting.
    """
    bound_variables: Mapping[str, Any] = variables or {}

    class OperationLimitsRule(ValidationRule):
        """Depth, aliases, `first` and cost, in one walk of each operation."""

        def enter_operation_definition(
            self, node: OperationDefinitionNode, *_args: Any
        ) -> Any:
            context = self.context
            error = _OperationCheck(
                context.schema, context.get_fragment, limits, bound_variables, node
            ).run()
            if error is not None:
                self.report_error(error)
                return BREAK
            return SKIP  # the check walked it, fragments included

        def enter_fragment_definition(self, *_args: Any) -> Any:
            return SKIP  # checked through the spreads that use it

    class DirectiveCountRule(ASTValidationRule):
        """Directives in the document as written, counted by a plain scan.

        Not through fragments: repeated directives are a parse and validation cost, which
        the document's own size measures. The scan keeps graphql-core's typed AST visit
        (the costly part of validating a large document) out of this pass.
        """

        def enter_document(self, node: DocumentNode, *_args: Any) -> Any:
            directive = _directive_over(node, limits.max_directives)
            if directive is not None:
                self.report_error(_too_many_directives(directive, limits))
                return BREAK
            return SKIP

    return [OperationLimitsRule, DirectiveCountRule]


def _directive_over(document: DocumentNode, limit: int) -> DirectiveNode | None:
    """The directive that takes the count past `limit`, if any."""
    count = 0
    stack: list[Node] = list(document.definitions)
    while stack:
        node = stack.pop()
        directives: Sequence[DirectiveNode] = getattr(node, "directives", None) or ()
        if count + len(directives) > limit:
            return directives[limit - count]
        count += len(directives)
        stack.extend(getattr(node, "variable_definitions", None) or ())
        selection_set: SelectionSetNode | None = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return None


def _too_many_directives(directive: DirectiveNode, limits: QueryLimits) -> GraphQLError:
    message = f"Query uses more than {limits.max_directives} directives."
    return _error(LimitCode.TOO_MANY_DIRECTIVES, message, directive)


def validate_limits(
    schema: GraphQLSchema,
    document: DocumentNode,
    limits: QueryLimits,
    variables: Mapping[str, Any] | None = None,
) -> list[GraphQLError]:
    """The limit rules' verdict, as a pass of its own before the specified rules.

    Run directly rather than through `graphql.validate`, whose visit walks every node with
    type information even after every rule has stopped: this way a refused document costs
    only the walk up to the limit it crossed.
    """
    directive = _directive_over(document, limits.max_directives)
    if directive is not None:
        return [_too_many_directives(directive, limits)]
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            check = _OperationCheck(schema, fragments.get, limits, variables or {}, definition)
            error = check.run()
            if error is not None:
                return [error]
    return []


# --- suggestions ---------------------------------------------------------------------------

# graphql-core appends suggestions as " Did you mean ...?" at the end of the message.
_SUGGESTION = re.compile(r"\s*Did you mean .*\?\s*$", re.DOTALL)


def strip_suggestions(errors: Sequence[GraphQLError]) -> list[GraphQLError]:
    """Errors without " Did you mean ...?", which would reveal field names to outsiders."""
    stripped: list[GraphQLError] = []
    for error in errors:
        message = _SUGGESTION.sub("", error.message)
        if message == error.message:
            stripped.append(error)
            continue
        stripped.append(GraphQLError(message, error.nodes, error.source, error.positions,
                                     error.path, error.original_error, error.extensions))
    return stripped
