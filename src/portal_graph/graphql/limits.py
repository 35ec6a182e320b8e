"""Query limits: a parse guard and validation rules that refuse hostile documents cheaply.

Order matters for cost: `parse_document` caps the token count before any AST exists, then
`check_limits` runs these checks alone (the walk in query_walk.py), before graphql-core's
specified rules (some are quadratic in repeated fields). `limit_rules` offers the same checks
as rule classes for a single `graphql.validate` pass. Every walk is iterative, bounded by a
visit budget and stops at the first limit crossed, so a hostile document costs little more
than its parse. The limits themselves, per audience: budgets.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from graphql import (
    BREAK,
    SKIP,
    DirectiveNode,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from graphql.validation import ASTValidationRule, ValidationRule

from portal_graph.graphql.budgets import LimitCode, QueryLimits, limit_error
from portal_graph.graphql.query_walk import OperationCheck

__all__ = ["LimitCode", "QueryLimits", "check_limits", "limit_rules", "parse_document",
           "strip_suggestions", "validate_limits"]


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
            error = OperationCheck(
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
    return limit_error(LimitCode.TOO_MANY_DIRECTIVES, message, directive)


def validate_limits(
    schema: GraphQLSchema,
    document: DocumentNode,
    limits: QueryLimits,
    variables: Mapping[str, Any] | None = None,
) -> list[GraphQLError]:
    """The limit rules' verdict, as a pass of its own before the specified rules."""
    return check_limits(schema, document, limits, variables)[0]


def check_limits(
    schema: GraphQLSchema,
    document: DocumentNode,
    limits: QueryLimits,
    variables: Mapping[str, Any] | None = None,
) -> tuple[list[GraphQLError], int]:
    """The limits' verdict, and the cost of the document's costliest operation.

    Run directly rather than through `graphql.validate`, whose visit walks every node with
    type information even after every rule has stopped: this way a refused document costs
    only the walk up to the limit it crossed.
    """
    directive = _directive_over(document, limits.max_directives)
    if directive is not None:
        return [_too_many_directives(directive, limits)], 0
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    cost = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            check = OperationCheck(schema, fragments.get, limits, variables or {}, definition)
            error = check.run()
            if error is not None:
                return [error], 0
            cost = max(cost, check.cost)
    return [], cost


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
