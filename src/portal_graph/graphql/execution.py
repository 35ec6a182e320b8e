"""Running one GraphQL operation for one viewer: parse, validate, execute, mask.

The schema is the viewer's audience schema, picked per request (built once at start-up), and
so are the limits (budgets.py: much smaller for anonymous callers and external users). Parsing
is cached per (token limit, query text) and the structural validation per (audience, query
text); the limits that depend on variables (cost, `first`) run per request and before
graphql-core's own rules.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationType,
    execute,
    get_operation_ast,
    specified_rules,
    validate,
)
from graphql.validation import FieldsOnCorrectTypeRule, KnownTypeNamesRule
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.utils.await_maybe import await_maybe

from portal_graph.graphql import plain_fields
from portal_graph.graphql.compiled import CompiledReads
from portal_graph.graphql.core.audiences import (
    FORBIDDEN,
    TOLD_WHAT_IS_HIDDEN,
    forbidden_field_rule,
    forbidden_type_rule,
)
from portal_graph.graphql.core.context import Context
from portal_graph.graphql.limits import (
    QueryLimits,
    check_limits,
    parse_document,
    strip_suggestions,
)
from portal_graph.graphql.schema import audience_schema, full_schema
from portal_graph.scope import Audience

log = logging.getLogger("portal_graph.graphql")
CACHE_SIZE = 512


class _LRU(OrderedDict[Any, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: Any, value: Any) -> Any:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value

    def recall(self, key: Any) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value


@dataclass
class Prepared:
    document: DocumentNode | None
    errors: list[GraphQLError]
    cost: int = 0  # of the costliest operation in the document (what a batch adds up)


def _rules_for(audience: Audience) -> tuple[type, ...]:
    """graphql-core's rules; for staff, a hidden name is FORBIDDEN rather than unknown. Anyone
    else gets graphql-core's own error for a name their schema lacks: hidden means unknown."""
    full = full_schema()._schema
    swapped = {FieldsOnCorrectTypeRule: forbidden_field_rule(full),
               KnownTypeNamesRule: forbidden_type_rule(full)}
    rules = list(specified_rules)
    if audience in TOLD_WHAT_IS_HIDDEN:
        rules = [swapped.get(rule, rule) for rule in rules]
    return (*rules, MaybeNullValidationRule, OneOfInputValidationRule)


class Executor:
    """Per process: the audience schemas, their rules and the parse/validation caches."""

    def __init__(self, limits: Mapping[Audience, QueryLimits] | QueryLimits,
                 execution: str = "compiled") -> None:
        self.execution = execution
        self.compiled = CompiledReads()
        self.limits = (dict(limits) if isinstance(limits, Mapping)
                       else dict.fromkeys(Audience, limits))
        self.schemas = {audience: audience_schema(audience)._schema for audience in Audience}
        for schema in self.schemas.values():
            plain_fields.install(schema)
        self.rules = {audience: _rules_for(audience) for audience in Audience}
        self._parsed = _LRU(CACHE_SIZE)
        self._validated = _LRU(CACHE_SIZE)

    def prepare(self, audience: Audience, query: str,
                variables: dict[str, Any] | None) -> Prepared:
        limits = self.limits[audience]
        parse_key = (limits.max_tokens, query)
        document = self._parsed.recall(parse_key)
        if document is None:
            try:
                document = self._parsed.remember(parse_key, parse_document(query, limits))
            except GraphQLError as error:
                return Prepared(None, [error])
        schema = self.schemas[audience]
        # The audience's limits first: they stop hostile documents before the specified
        # rules, some of which are quadratic in repeated fields.
        errors, cost = check_limits(schema, document, limits, variables)
        if errors:
            return Prepared(None, errors)
        key = (audience, query)
        cached = self._validated.recall(key)
        if cached is None:
            cached = self._validated.remember(
                key, validate(schema, document, self.rules[audience]) or [])
        if cached:
            if audience in TOLD_WHAT_IS_HIDDEN:
                # A denial explains the whole refusal; the errors that follow from it add noise.
                denials = [e for e in cached if (e.extensions or {}).get("code") == FORBIDDEN]
                cached = denials or cached
            else:
                cached = strip_suggestions(cached)  # "Did you mean" would name hidden fields
            return Prepared(None, list(cached))
        return Prepared(document, [], cost)

    @staticmethod
    def operation_type(document: DocumentNode, operation_name: str | None) -> OperationType | None:
        operation = get_operation_ast(document, operation_name)
        return operation.operation if operation else None

    async def run(self, context: Context, document: DocumentNode,
                  variables: dict[str, Any] | None, operation_name: str | None,
                  query: str | None = None) -> ExecutionResult:
        """A query through its compiled plan (with `query`, its text, the plan's key) when
        there is one and it completes; graphql-core otherwise (EXECUTION=graphql: always)."""
        if self.execution == "compiled" and query is not None:
            data = await self.compiled.run(self.schemas[context.viewer.audience], context,
                                           query, document, variables, operation_name)
            if data is not None:
                return ExecutionResult(data=data)
        return await self.run_graphql(context, document, variables, operation_name)

    async def run_graphql(self, context: Context, document: DocumentNode,
                          variables: dict[str, Any] | None, operation_name: str | None,
                          executor_class: type | None = plain_fields.PlainFieldExecutor,
                          ) -> ExecutionResult:
        """graphql-core (`executor_class=None`: its own executor, for tests)."""
        result = await await_maybe(execute(
            self.schemas[context.viewer.audience], document, context_value=context,
            variable_values=variables, operation_name=operation_name,
            executor_class=executor_class,
            is_awaitable=plain_fields.is_awaitable))
        return result  # type: ignore[no-any-return]


def is_expected(error: GraphQLError) -> bool:
    """Errors we raise on purpose carry a code; anything else is unexpected and masked."""
    original = error.original_error
    if original is None:
        return True
    return isinstance(original, GraphQLError) and bool((original.extensions or {}).get("code"))


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    if not is_expected(error):
        log.error("unexpected error in %s", ".".join(map(str, error.path or [])) or "request",
                  exc_info=error.original_error, extra={"request_id": request_id})
        return {"message": "Internal server error",
                "path": error.path,
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}}
    formatted = error.formatted
    extensions = dict(formatted.get("extensions") or {})
    extensions.setdefault("code", "GRAPHQL_VALIDATION_FAILED" if error.path is None
                          else "BAD_REQUEST")
    formatted["extensions"] = extensions
    return dict(formatted)
