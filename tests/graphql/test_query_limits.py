"""Query limits: each refused with its code, cheaply, on a small schema with a connection."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import strawberry
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    get_introspection_query,
    parse,
    specified_rules,
    validate,
)

from portal_graph.graphql.limits import (
    LimitCode,
    QueryLimits,
    limit_rules,
    parse_document,
    strip_suggestions,
    validate_limits,
)


@strawberry.type
class Capture:
    id: strawberry.ID
    note: str | None


@strawberry.type
class Job:
    id: strawberry.ID
    title: str

    @strawberry.field
    def captures(self, first: int | None = None) -> list[Capture]:
        return []

    @strawberry.field
    def previous(self) -> Job | None:
        return None


@strawberry.type
class JobEdge:
    cursor: str
    node: Job


@strawberry.type
class JobConnection:
    edges: list[JobEdge]
    total_count: int


@strawberry.type
class Query:
    @strawberry.field
    def jobs(self, first: int | None = None) -> JobConnection:
        return JobConnection(edges=[], total_count=0)

    @strawberry.field
    def job(self) -> Job | None:
        return None


SCHEMA: GraphQLSchema = strawberry.Schema(query=Query)._schema

# Cost: jobs 1 + edges n + node n + id n + title n = 1 + 4n (edges is not a second page).
JOBS_PAGE = "query Jobs($n: Int) { jobs(first: $n) { edges { node { id title } } } }"
JOBS_PAGE_LITERAL = "{ jobs(first: %d) { edges { node { id title } } } }"
JOBS_PAGE_DEFAULTED = "query Jobs($n: Int = 30) { jobs(first: $n) { edges { node { id title } } } }"
WITHIN_DEFAULT_LIMITS = """
query Dashboard($n: Int!) {
  jobs(first: $n) {
    totalCount
    edges { cursor node { id title captures(first: 5) { id note } } }
  }
}
"""
TEN_ALIASES_FRAGMENT = (
    "fragment Ten on Job { " + " ".join(f"a{i}: id" for i in range(10)) + " }"
)


def nested(levels: int) -> str:
    """`{ job { previous { ... { id } } } }` with `levels` fields on the deepest path."""
    fields = ["job", *["previous"] * (levels - 2), "id"]
    return "{ " + " { ".join(fields) + " }" * levels


Check = Callable[..., list[GraphQLError]]


@pytest.fixture(params=["validate_limits", "limit_rules"])
def limit_errors(request: pytest.FixtureRequest) -> Check:
    """The limits' verdict on a query, by the direct pass or by the rules in `validate`."""

    def check(
        query: str, limits: QueryLimits | None = None, variables: dict[str, Any] | None = None
    ) -> list[GraphQLError]:
        limits = limits or QueryLimits()
        document = parse_document(query, limits)
        if request.param == "validate_limits":
            return validate_limits(SCHEMA, document, limits, variables)
        return validate(SCHEMA, document, limit_rules(limits, variables))

    return check


def codes(errors: list[GraphQLError]) -> list[str]:
    return [(error.extensions or {}).get("code", "") for error in errors]


def timed_refusal(query: str, limits: QueryLimits) -> tuple[list[str], float]:
    """Parse guard then limit rules, as the endpoint runs them; the codes and the time taken."""
    started = time.perf_counter()
    try:
        document: DocumentNode = parse_document(query, limits)
    except GraphQLError as error:
        found = codes([error])
    else:
        found = codes(validate_limits(SCHEMA, document, limits))
    return found, (time.perf_counter() - started) * 1000


# --- within limits ---------------------------------------------------------------------------


def test_a_query_within_every_limit_passes_the_limits_and_the_specified_rules() -> None:
    document = parse_document(WITHIN_DEFAULT_LIMITS, QueryLimits())

    rules = [*specified_rules, *limit_rules(QueryLimits(), {"n": 100})]

    assert validate(SCHEMA, document, rules) == []


# --- parse guard ------------------------------------------------------------------------------


def test_a_document_over_the_token_cap_is_refused_as_too_large() -> None:
    with pytest.raises(GraphQLError) as refused:
        parse_document("{ " + "job { id } " * 10 + "}", QueryLimits(max_tokens=20))

    assert refused.value.extensions == {"code": "QUERY_TOO_LARGE"}


def test_comments_count_towards_the_token_cap() -> None:
    padded = "{ job { id } }\n" + "# padding\n" * 30

    with pytest.raises(GraphQLError) as refused:
        parse_document(padded, QueryLimits(max_tokens=20))

    assert refused.value.extensions == {"code": "QUERY_TOO_LARGE"}


def test_a_syntax_error_keeps_its_message_and_gets_a_parse_code() -> None:
    with pytest.raises(GraphQLError) as refused:
        parse_document("{ job { id }", QueryLimits())

    assert refused.value.extensions == {"code": "GRAPHQL_PARSE_FAILED"}
    assert refused.value.message.startswith("Syntax Error")


def test_a_ten_thousand_alias_query_is_refused_by_the_parse_guard() -> None:
    query = "{ " + " ".join(f"a{i}: jobs {{ totalCount }}" for i in range(10_000)) + " }"

    found, elapsed_ms = timed_refusal(query, QueryLimits())

    print(f"10,000 aliases refused in {elapsed_ms:.1f} ms")
    assert found == [LimitCode.QUERY_TOO_LARGE]


def test_a_ten_thousand_alias_query_is_refused_by_the_rules_even_without_the_token_cap() -> None:
    query = "{ " + " ".join(f"a{i}: jobs {{ totalCount }}" for i in range(10_000)) + " }"
    document = parse(query)

    started = time.perf_counter()
    errors = validate_limits(SCHEMA, document, QueryLimits())
    elapsed_ms = (time.perf_counter() - started) * 1000

    print(f"10,000 aliases refused by the rules in {elapsed_ms:.1f} ms (parse excluded)")
    assert codes(errors) == [LimitCode.TOO_MANY_ALIASES]


# --- depth ------------------------------------------------------------------------------------


def test_depth_at_the_limit_passes(limit_errors: Check) -> None:
    assert limit_errors(nested(12)) == []


def test_depth_over_the_limit_is_refused(limit_errors: Check) -> None:
    assert codes(limit_errors(nested(16))) == [LimitCode.QUERY_TOO_DEEP]
    assert codes(limit_errors(nested(13), QueryLimits(max_depth=12))) == [
        LimitCode.QUERY_TOO_DEEP]


def test_a_fifty_deep_query_is_refused() -> None:
    found, elapsed_ms = timed_refusal(nested(50), QueryLimits())

    print(f"50-deep query refused in {elapsed_ms:.1f} ms")
    assert found == [LimitCode.QUERY_TOO_DEEP]


def test_depth_is_counted_through_fragments(limit_errors: Check) -> None:
    query = """
    { job { ...Deep } }
    fragment Deep on Job { previous { previous { ...Deeper } } }
    fragment Deeper on Job { previous { previous { id } } }
    """

    assert codes(limit_errors(query, QueryLimits(max_depth=5))) == [LimitCode.QUERY_TOO_DEEP]
    assert limit_errors(query, QueryLimits(max_depth=6)) == []


def test_fragment_cycles_end_the_walk_and_are_left_to_the_specified_rule() -> None:
    query = """
    { job { ...A } }
    fragment A on Job { previous { ...B } }
    fragment B on Job { previous { ...A } }
    """
    document = parse_document(query, QueryLimits())

    assert validate_limits(SCHEMA, document, QueryLimits()) == []
    assert any("within itself" in error.message for error in validate(SCHEMA, document))


def test_introspection_fields_count_towards_depth(limit_errors: Check) -> None:
    # 13 levels: __schema, types, fields, type, 8 ofType, name.
    query = "{ __schema { types { fields { type { ofType { ofType { ofType { " \
            "ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }"

    assert codes(limit_errors(query, QueryLimits(max_depth=12))) == [LimitCode.QUERY_TOO_DEEP]


def test_the_standard_introspection_query_needs_a_depth_of_fifteen(limit_errors: Check) -> None:
    query = get_introspection_query(descriptions=True)

    assert codes(limit_errors(query, QueryLimits(max_depth=14))) == [LimitCode.QUERY_TOO_DEEP]
    assert limit_errors(query, QueryLimits(max_depth=15)) == []
    assert limit_errors(query) == []  # the default lets GraphiQL introspect


# --- aliases ----------------------------------------------------------------------------------


def test_aliases_at_the_limit_pass(limit_errors: Check) -> None:
    query = "{ job { " + " ".join(f"a{i}: id" for i in range(30)) + " } }"

    assert limit_errors(query) == []


def test_aliases_over_the_limit_are_refused(limit_errors: Check) -> None:
    query = "{ job { " + " ".join(f"a{i}: id" for i in range(31)) + " } }"

    assert codes(limit_errors(query)) == [LimitCode.TOO_MANY_ALIASES]


def test_aliases_hidden_in_a_fragment_count_once_per_spread(limit_errors: Check) -> None:
    # 10 aliases in one fragment, spread in 4 places: 40 aliases, though 10 are written.
    query = (
        "{ job { ...Ten previous { ...Ten previous { ...Ten previous { ...Ten } } } } } "
        + TEN_ALIASES_FRAGMENT
    )

    assert codes(limit_errors(query)) == [LimitCode.TOO_MANY_ALIASES]


# --- directives -------------------------------------------------------------------------------


def test_directives_over_the_limit_are_refused(limit_errors: Check) -> None:
    query = "{ job { " + " ".join(f"a{i}: id @include(if: true)" for i in range(51)) + " } }"

    errors = limit_errors(query, QueryLimits(max_aliases=100))

    assert codes(errors) == [LimitCode.TOO_MANY_DIRECTIVES]


def test_directives_at_the_limit_pass(limit_errors: Check) -> None:
    query = "{ job { " + " ".join(f"a{i}: id @include(if: true)" for i in range(50)) + " } }"

    assert limit_errors(query, QueryLimits(max_aliases=100)) == []


# --- cost and first ---------------------------------------------------------------------------


def test_cost_is_weighted_by_a_literal_first(limit_errors: Check) -> None:
    limits = QueryLimits(max_cost=100)

    assert limit_errors(JOBS_PAGE_LITERAL % 24, limits) == []  # 1 + 4 * 24 = 97
    assert codes(limit_errors(JOBS_PAGE_LITERAL % 25, limits)) == [LimitCode.QUERY_TOO_COSTLY]


def test_cost_is_weighted_by_a_first_variable(limit_errors: Check) -> None:
    limits = QueryLimits(max_cost=100)

    assert limit_errors(JOBS_PAGE, limits, {"n": 24}) == []
    assert codes(limit_errors(JOBS_PAGE, limits, {"n": 25})) == [LimitCode.QUERY_TOO_COSTLY]


def test_cost_uses_a_variable_default_when_the_variable_is_not_sent(limit_errors: Check) -> None:
    limits = QueryLimits(max_cost=100)

    assert codes(limit_errors(JOBS_PAGE_DEFAULTED, limits)) == [LimitCode.QUERY_TOO_COSTLY]
    assert limit_errors(JOBS_PAGE_DEFAULTED, limits, {"n": 10}) == []


def test_a_list_without_first_is_weighted_as_a_full_page(limit_errors: Check) -> None:
    # jobs without first: 1 + 4 * max_first(100) = 401.
    query = "{ jobs { edges { node { id title } } } }"

    assert limit_errors(query, QueryLimits(max_cost=401)) == []
    assert codes(limit_errors(query, QueryLimits(max_cost=400))) == [LimitCode.QUERY_TOO_COSTLY]


def test_nested_lists_multiply(limit_errors: Check) -> None:
    # 1 + 3 * 10 (edges, node, captures) + 10 * 20 (id) = 231
    query = "{ jobs(first: 10) { edges { node { captures(first: 20) { id } } } } }"

    assert limit_errors(query, QueryLimits(max_cost=231)) == []
    assert codes(limit_errors(query, QueryLimits(max_cost=230))) == [LimitCode.QUERY_TOO_COSTLY]


@pytest.mark.parametrize("first", [101, -1])
def test_a_literal_first_out_of_range_is_refused(first: int, limit_errors: Check) -> None:
    assert codes(limit_errors(JOBS_PAGE_LITERAL % first)) == [LimitCode.FIRST_OUT_OF_RANGE]


@pytest.mark.parametrize("first", [1000, -5])
def test_a_first_variable_out_of_range_is_refused(first: int, limit_errors: Check) -> None:
    errors = limit_errors(JOBS_PAGE, variables={"n": first})

    assert codes(errors) == [LimitCode.FIRST_OUT_OF_RANGE]


def test_a_fragment_bomb_is_refused_as_too_costly() -> None:
    # Each level doubles the expansion: 2**20 spreads of F0, written in a few hundred tokens.
    levels = 20
    fragments = " ".join(
        f"fragment F{i + 1} on Job {{ ...F{i} ...F{i} }}" for i in range(levels)
    )
    query = f"{{ job {{ ...F{levels} }} }} fragment F0 on Job {{ id }} {fragments}"

    # The repeated `id` ends it first; without that limit, the visit budget does.
    unrepeated = QueryLimits(max_repeated_fields=10**9, max_selections=10**9)
    found, elapsed_ms = timed_refusal(query, unrepeated)

    print(f"fragment bomb refused in {elapsed_ms:.1f} ms")
    assert found == [LimitCode.QUERY_TOO_COSTLY]
    assert timed_refusal(query, QueryLimits())[0] == [LimitCode.TOO_MANY_REPEATED_FIELDS]


# --- suggestions ------------------------------------------------------------------------------


def test_strip_suggestions_removes_did_you_mean_and_keeps_the_rest() -> None:
    errors = validate(SCHEMA, parse_document("{ jbos { totalCount } }", QueryLimits()))
    assert "Did you mean" in errors[0].message

    stripped = strip_suggestions(errors)

    assert stripped[0].message == "Cannot query field 'jbos' on type 'Query'."
    assert stripped[0].locations == errors[0].locations
