"""GraphQL over HTTP request parsing: what becomes a request, what is refused and how."""

from __future__ import annotations

import orjson
import pytest
from graphql import parse

from portal_graph.http.graphql_http import (
    GraphQLBatch,
    GraphQLRequest,
    HttpError,
    HttpErrorCode,
    is_mutation,
    mutation_over_get,
    parse_graphql_request,
)

JSON = "application/json"
QUERY = "query Jobs($n: Int) { jobs(first: $n) { totalCount } }"


def post(body: object, content_type: str | None = JSON, **kwargs: int) -> object:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return parse_graphql_request("POST", content_type, {}, raw, **kwargs)


def refused(result: object) -> tuple[int, HttpErrorCode]:
    assert isinstance(result, HttpError), result
    return result.status, result.code


# --- POST -----------------------------------------------------------------------------------


def test_a_post_json_object_becomes_a_request() -> None:
    result = post({"query": QUERY, "variables": {"n": 5}, "operationName": "Jobs"})

    assert result == GraphQLRequest(QUERY, {"n": 5}, "Jobs", {})


def test_a_post_with_a_utf8_charset_is_accepted() -> None:
    result = post({"query": QUERY}, content_type="application/json; charset=UTF-8")

    assert isinstance(result, GraphQLRequest)


def test_null_variables_and_operation_name_are_absent() -> None:
    result = post({"query": QUERY, "variables": None, "operationName": None})

    assert result == GraphQLRequest(QUERY, {}, None, {})


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_post_that_is_not_json_is_refused_with_415(content_type: str | None) -> None:
    assert refused(post({"query": QUERY}, content_type)) == (
        415, HttpErrorCode.UNSUPPORTED_MEDIA_TYPE
    )


@pytest.mark.parametrize("body", [b"{", b"", b"\xff\xfe", b'{"query": "x"} trailing'])
def test_malformed_json_is_refused_with_400(body: bytes) -> None:
    assert refused(post(body)) == (400, HttpErrorCode.MALFORMED_JSON)


@pytest.mark.parametrize("body", [{}, {"query": None}, {"query": ""}, {"variables": {}}])
def test_a_missing_query_is_refused_with_400(body: dict[str, object]) -> None:
    assert refused(post(body)) == (400, HttpErrorCode.MISSING_QUERY)


@pytest.mark.parametrize("variables", [[1], "{}", 3])
def test_variables_that_are_not_an_object_are_refused_with_400(variables: object) -> None:
    assert refused(post({"query": QUERY, "variables": variables})) == (
        400, HttpErrorCode.INVALID_VARIABLES
    )


@pytest.mark.parametrize(
    "body", [{"query": 3}, {"query": QUERY, "operationName": 1}, "query", 42, None]
)
def test_a_request_of_the_wrong_shape_is_refused_with_400(body: object) -> None:
    assert refused(post(body)) == (400, HttpErrorCode.INVALID_REQUEST)


# --- batching -------------------------------------------------------------------------------


def test_a_json_list_becomes_a_batch_in_order() -> None:
    result = post([{"query": "{ a }"}, {"query": "{ b }", "variables": {"x": 1}}])

    assert result == GraphQLBatch(
        (GraphQLRequest("{ a }"), GraphQLRequest("{ b }", {"x": 1}))
    )


def test_a_batch_at_the_cap_is_accepted() -> None:
    result = post([{"query": "{ a }"}] * 10)

    assert isinstance(result, GraphQLBatch)
    assert len(result.requests) == 10


def test_a_batch_over_the_cap_is_refused() -> None:
    assert refused(post([{"query": "{ a }"}] * 11)) == (400, HttpErrorCode.BATCH_TOO_LARGE)


def test_the_batch_cap_is_configurable() -> None:
    assert refused(post([{"query": "{ a }"}] * 2, max_batch=1)) == (
        400, HttpErrorCode.BATCH_TOO_LARGE
    )


def test_one_bad_item_refuses_the_whole_batch() -> None:
    assert refused(post([{"query": "{ a }"}, {"variables": {}}])) == (
        400, HttpErrorCode.MISSING_QUERY
    )


def test_an_empty_batch_is_refused() -> None:
    assert refused(post([])) == (400, HttpErrorCode.INVALID_REQUEST)


# --- GET ------------------------------------------------------------------------------------


def test_a_get_takes_query_variables_and_operation_name_from_the_query_string() -> None:
    params = {"query": QUERY, "variables": '{"n": 3}', "operationName": "Jobs"}

    result = parse_graphql_request("GET", None, params, b"")

    assert result == GraphQLRequest(QUERY, {"n": 3}, "Jobs", {})


def test_a_get_without_a_query_is_refused() -> None:
    assert refused(parse_graphql_request("GET", None, {}, b"")) == (
        400, HttpErrorCode.MISSING_QUERY
    )


@pytest.mark.parametrize("variables", ["{", "[1]", "7"])
def test_get_variables_that_are_not_a_json_object_are_refused(variables: str) -> None:
    params = {"query": QUERY, "variables": variables}

    assert refused(parse_graphql_request("GET", None, params, b"")) == (
        400, HttpErrorCode.INVALID_VARIABLES
    )


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_refused_with_405(method: str) -> None:
    assert refused(parse_graphql_request(method, JSON, {}, b"{}")) == (
        405, HttpErrorCode.METHOD_NOT_ALLOWED
    )


def test_errors_render_as_a_graphql_errors_list() -> None:
    body = orjson.loads(mutation_over_get().body())

    assert body == {
        "errors": [
            {
                "message": "Mutations must be sent with POST",
                "extensions": {"code": "MUTATION_OVER_GET"},
            }
        ]
    }


# --- mutation detection ---------------------------------------------------------------------

MIXED = "query Read { a } mutation Write { b }"


def test_a_lone_query_is_not_a_mutation() -> None:
    assert is_mutation(parse("{ jobs { totalCount } }"), None) is False


def test_a_lone_mutation_is_a_mutation() -> None:
    assert is_mutation(parse("mutation { revoke }"), None) is True


def test_the_named_operation_decides() -> None:
    assert is_mutation(parse(MIXED), "Read") is False
    assert is_mutation(parse(MIXED), "Write") is True


def test_an_ambiguous_document_with_a_mutation_counts_as_a_mutation() -> None:
    assert is_mutation(parse(MIXED), None) is True


def test_an_unknown_operation_name_is_not_a_mutation() -> None:
    # Execution refuses it ("Unknown operation named"); nothing would be changed.
    assert is_mutation(parse(MIXED), "Missing") is False
