"""The custom graphql-core executor (plain_fields.PlainFieldExecutor) answers exactly what
graphql-core's own executor answers: on the authorization matrix's documents and the bench's
workloads as every audience of the cast, and on the failures its short path hands back to
graphql-core (a null in a non-null field, a value a scalar refuses)."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
import strawberry
from graphql import execute

from portal_graph.auth.service import resolve_viewer
from portal_graph.graphql import plain_fields
from portal_graph.graphql.core.context import Context
from tests.compiled.test_equivalence import dumped
from tests.permissions import test_authorization_matrix as matrix
from tests.permissions.conftest import AUDIENCES, Cast
from tests.permissions.conftest import cast as cast  # the fixture

BENCH = (
    """query Portal($jobs: Int!) { customers(first: 50) { edges { node { name
      jobs(first: $jobs, status: COMPLETED) { edges { node { reference title completedAt
        mapCaptures(first: 10) { edges { node { latitude longitude note } } }
        assets(first: 10) { edges { node { name kind } } } } } } } } } }""",
    """query Node($id: ID!) { node(id: $id) { id ... on Job { reference title status
      completedAt customer { name } } } }""",
    """query Search($search: String!) { externalUsers(first: 20, search: $search) {
      edges { node { id email name lastSeenAt customers { name } } } } }""",
)
READS = [getattr(matrix, name) for name in dir(matrix)
         if name.isupper() and isinstance(getattr(matrix, name), str)
         and getattr(matrix, name).lstrip().startswith(("{", "query"))]


def _variables(cast: Cast) -> dict[str, Any]:
    return {"id": cast.ids["j1"], "customerId": cast.ids["c1"], "status": "COMPLETED",
            "jobs": 10, "search": "a", "token": cast.invitation_token}


async def _both(runtime: Any, executor: Any, token: str | None, query: str,
                variables: dict[str, Any]) -> tuple[bytes, bytes] | None:
    answers = []
    for executor_class in (plain_fields.PlainFieldExecutor, None):
        async with runtime.sessionmaker() as session, session.begin(), session.settled():
            viewer = await resolve_viewer(session, token, runtime.settings)
            prepared = executor.prepare(viewer.audience, query, variables)
            if prepared.document is None:
                return None
            context = Context(session=session, viewer=viewer, settings=runtime.settings,
                              runtime=runtime, request_id="fence")
            wanted = {d.variable.name.value for op in prepared.document.definitions
                      for d in getattr(op, "variable_definitions", None) or ()}
            result = await executor.run_graphql(
                context, prepared.document, {k: v for k, v in variables.items() if k in wanted},
                None, executor_class=executor_class)
            answers.append(dumped(result.data, result.errors, "fence"))
    return answers[0], answers[1]


async def test_the_plain_field_executor_answers_the_corpus_as_graphql_core_does(
        app, runtime, cast):
    compared = 0
    for audience in AUDIENCES:
        for query in (*READS, *BENCH):
            both = await _both(runtime, app.state.executor, cast.tokens[audience], query,
                               _variables(cast))
            if both is None:
                continue
            compared += 1
            assert both[0] == both[1], (audience, query)
    assert compared > 50


@strawberry.type
class Odd:
    count: int  # its source holds None: a null in a non-null field
    ratio: float  # its source holds NaN: a value Float refuses
    name: str
    maybe: int | None = None


@strawberry.type
class OddQuery:
    @strawberry.field
    def odd(self) -> Odd:
        return Odd(count=None, ratio=math.nan, name="plain", maybe=None)  # type: ignore[arg-type]

    @strawberry.field
    def odds(self) -> list[Odd | None]:
        return [Odd(count=1, ratio=0.5, name="a"), Odd(count=None, ratio=1.0, name="b"),  # type: ignore[arg-type]
                Odd(count=2, ratio=-0.0, name="c")]


@pytest.mark.parametrize("query", [
    "{ odd { name } }", "{ odd { count } }", "{ odd { ratio } }", "{ odd { maybe name } }",
    "{ odds { name count } }", "{ odds { ratio name } }", "{ odds { count ratio } }",
])
def test_failures_on_the_short_path_are_graphql_cores_own(query):
    schema = strawberry.Schema(query=OddQuery)._schema
    plain_fields.install(schema)
    from graphql import parse

    document = parse(query)
    ours = execute(schema, document, executor_class=plain_fields.PlainFieldExecutor,
                   is_awaitable=plain_fields.is_awaitable)
    theirs = execute(schema, document)
    assert orjson.dumps(ours.formatted) == orjson.dumps(theirs.formatted)  # type: ignore[union-attr]


def test_an_unknown_graphql_core_stops_start_up(monkeypatch):
    monkeypatch.setattr(plain_fields, "SUPPORTED", ((9, 0, 0), (10, 0, 0)))
    with pytest.raises(RuntimeError, match="not supported"):
        plain_fields.check_graphql_core()
