"""Compiled read plans: a validated query run over the loaders' SQL without graphql-core.

After validation and the limit checks, a query is planned once per (audience, document,
operation name, values of the variables its @include/@skip read) (plan.py) and each request
runs the plan (run.py): the same statements through the same loaders and scope filters, the
rows turned into response objects by one generated loop per level (build.py). Whatever the
planner does not know, and any error, runs on graphql-core, per operation: `plan` gives None,
or the run raises and `CompiledReads.run` gives None. graphql-core is also the oracle: the
equivalence property test (tests/compiled) compares both answers byte for byte.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from graphql import DocumentNode, GraphQLSchema, get_operation_ast
from graphql.execution.values import VariableValues, get_variable_values

from portal_graph.db.outage import database_unavailable
from portal_graph.graphql.compiled.plan import NotPlannable, Plan, Planner, directive_variables
from portal_graph.graphql.compiled.run import Run
from portal_graph.graphql.core.context import Context

log = logging.getLogger("portal_graph.graphql.compiled")
CACHE_SIZE = 512
_NOT_PLANNABLE = object()


class CompiledReads:
    """Per process: the plans, by audience and document."""

    def __init__(self) -> None:
        self._plans: OrderedDict[Any, Any] = OrderedDict()
        self._directives: dict[int, frozenset[str]] = {}
        self.ran = 0  # requests answered by a plan (tests read these)
        self.declined = 0  # requests sent to graphql-core

    def plan(self, schema: GraphQLSchema, audience: Any, query: str, document: DocumentNode,
             operation_name: str | None, variables: VariableValues) -> Plan | None:
        directives = self._directives.get(id(document))
        if directives is None:
            directives = directive_variables(document)
            if len(self._directives) > CACHE_SIZE:
                self._directives.clear()
            self._directives[id(document)] = directives
        key = (audience, query, operation_name,
               tuple(repr(variables.coerced.get(name)) for name in sorted(directives)))
        plan = self._plans.get(key)
        if plan is None:
            operation = get_operation_ast(document, operation_name)
            try:
                if operation is None:
                    raise NotPlannable("no such operation")
                plan = Planner(schema, document, operation, variables).plan()
            except NotPlannable as reason:
                log.debug("not plannable: %s", reason)
                plan = _NOT_PLANNABLE
            self._plans[key] = plan
            if len(self._plans) > CACHE_SIZE:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        return None if plan is _NOT_PLANNABLE else plan  # type: ignore[return-value]

    async def run(self, schema: GraphQLSchema, context: Context, query: str,
                  document: DocumentNode, raw_variables: dict[str, Any] | None,
                  operation_name: str | None) -> dict[str, Any] | None:
        """The response's `data`, or None: then graphql-core runs the operation."""
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            self.declined += 1
            return None
        variables = get_variable_values(schema, operation.variable_definitions or (),
                                        raw_variables or {}, max_errors=50)
        if isinstance(variables, list):  # graphql-core reports them
            self.declined += 1
            return None
        plan = self.plan(schema, context.viewer.audience, query, document, operation_name,
                         variables)
        if plan is None:
            self.declined += 1
            return None
        try:
            data = await Run(plan, context, variables).data()
        except Exception as error:  # graphql-core runs it again and reports what it finds
            if database_unavailable(error):
                raise  # the request is lost with its connection either way (a 503)
            log.debug("plan gave up: %r", error)
            self.declined += 1
            return None
        self.ran += 1
        return data


__all__ = ["CompiledReads"]
