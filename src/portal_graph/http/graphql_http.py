"""GraphQL over HTTP, request side: turn a method, media type and body into a request or a refusal.

Pure functions, no framework: the endpoint passes what it read and maps an `HttpError` to a
response with `error_body`. Follows the GraphQL-over-HTTP draft: POST takes
`application/json`, GET takes the query string, and a mutation over GET is refused (405) so a
link or an image tag cannot change anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from graphql import DocumentNode, OperationDefinitionNode, OperationType

from portal_graph.config import Settings


class HttpErrorCode(StrEnum):
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    MALFORMED_JSON = "MALFORMED_JSON"
    INVALID_REQUEST = "INVALID_REQUEST"
    MISSING_QUERY = "MISSING_QUERY"
    INVALID_VARIABLES = "INVALID_VARIABLES"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    MUTATION_OVER_GET = "MUTATION_OVER_GET"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"


@dataclass(frozen=True)
class HttpError:
    status: int
    code: HttpErrorCode
    message: str

    def body(self) -> bytes:
        return error_body(self.message, self.code)


@dataclass(frozen=True)
class GraphQLRequest:
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    operation_name: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)
    # A stored document's id instead of the query (trusted_documents.py); `query` is then "".
    document_id: str | None = None


@dataclass(frozen=True)
class GraphQLBatch:
    """A JSON list of requests; the endpoint answers with a list in the same order."""

    requests: tuple[GraphQLRequest, ...]


def error_body(message: str, code: str) -> bytes:
    """The one shape of an error refused before execution: GraphQL's `errors` list."""
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


def mutation_over_get() -> HttpError:
    return HttpError(405, HttpErrorCode.MUTATION_OVER_GET, "Mutations must be sent with POST")


def parse_graphql_request(
    method: str,
    content_type: str | None,
    query_params: Mapping[str, str],
    body: bytes,
    *,
    max_batch: int = Settings.declared("max_batch"),
) -> GraphQLRequest | GraphQLBatch | HttpError:
    """A request (or a batch) from GET parameters or a POST JSON body, else why not.
    `max_batch` is MAX_BATCH (the endpoint passes the configured one)."""
    method = method.upper()
    if method == "GET":
        return _from_get(query_params)
    if method != "POST":
        return HttpError(405, HttpErrorCode.METHOD_NOT_ALLOWED, "Use GET or POST")
    if not _is_json(content_type):
        return HttpError(
            415, HttpErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send the request as application/json"
        )
    try:
        payload = orjson.loads(body)  # also refuses bytes that are not UTF-8
    except orjson.JSONDecodeError:
        return HttpError(400, HttpErrorCode.MALFORMED_JSON, "The body is not valid JSON")
    if isinstance(payload, list):
        return _batch(payload, max_batch)
    return _from_object(payload)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type, _, parameters = content_type.partition(";")
    if media_type.strip().lower() != "application/json":
        return False
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return False  # JSON is UTF-8 (RFC 8259); anything else would be misread
    return True


def _batch(payload: list[Any], max_batch: int) -> GraphQLBatch | HttpError:
    if not payload:
        return HttpError(400, HttpErrorCode.INVALID_REQUEST, "The batch is empty")
    if len(payload) > max_batch:
        return HttpError(
            400, HttpErrorCode.BATCH_TOO_LARGE, f"A batch holds at most {max_batch} requests"
        )
    requests: list[GraphQLRequest] = []
    for item in payload:
        parsed = _from_object(item)
        if isinstance(parsed, HttpError):
            return parsed  # one bad item refuses the batch: no partial execution to explain
        requests.append(parsed)
    return GraphQLBatch(tuple(requests))


def _from_object(payload: Any) -> GraphQLRequest | HttpError:
    if not isinstance(payload, dict):
        return HttpError(400, HttpErrorCode.INVALID_REQUEST, "The body must be a JSON object")
    return _request(
        payload.get("query"),
        payload.get("variables"),
        payload.get("operationName"),
        payload.get("extensions"),
        payload.get("documentId"),
    )


def _from_get(query_params: Mapping[str, str]) -> GraphQLRequest | HttpError:
    decoded: dict[str, Any] = {}
    for name in ("variables", "extensions"):
        raw = query_params.get(name)
        if not raw:
            continue
        try:
            decoded[name] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            code = (
                HttpErrorCode.INVALID_VARIABLES
                if name == "variables"
                else HttpErrorCode.MALFORMED_JSON
            )
            return HttpError(400, code, f"The {name} parameter is not valid JSON")
    return _request(
        query_params.get("query"),
        decoded.get("variables"),
        query_params.get("operationName") or None,
        decoded.get("extensions"),
        query_params.get("documentId"),
    )


def _request(
    query: Any, variables: Any, operation_name: Any, extensions: Any, document_id: Any = None
) -> GraphQLRequest | HttpError:
    if document_id is not None:
        if not isinstance(document_id, str) or not document_id:
            return HttpError(400, HttpErrorCode.INVALID_REQUEST,
                             "The documentId must be a non-empty string")
        if query not in (None, ""):
            return HttpError(400, HttpErrorCode.INVALID_REQUEST,
                             "Send either a query or a documentId, not both")
        query = ""
    elif query is None or query == "":
        return HttpError(400, HttpErrorCode.MISSING_QUERY, "The request has no query")
    if not isinstance(query, str):
        return HttpError(400, HttpErrorCode.INVALID_REQUEST, "The query must be a string")
    if variables is not None and not isinstance(variables, dict):
        return HttpError(
            400, HttpErrorCode.INVALID_VARIABLES, "The variables must be a JSON object"
        )
    if operation_name is not None and not isinstance(operation_name, str):
        return HttpError(
            400, HttpErrorCode.INVALID_REQUEST, "The operationName must be a string"
        )
    if extensions is not None and not isinstance(extensions, dict):
        return HttpError(
            400, HttpErrorCode.INVALID_REQUEST, "The extensions must be a JSON object"
        )
    return GraphQLRequest(query, variables or {}, operation_name, extensions or {},
                          document_id)


def is_mutation(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the operation this request would run is a mutation.

    When the choice is ambiguous (several operations, no name) execution will fail anyway;
    answering True if any candidate is a mutation keeps GET safe in that case too.
    """
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    return any(o.operation is OperationType.MUTATION for o in operations)
