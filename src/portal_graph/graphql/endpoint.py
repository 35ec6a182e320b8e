"""`/graphql` over HTTP: GET and POST per the GraphQL-over-HTTP spec, GraphiQL for browsers.

One database session (one transaction) per request, opened here and committed at the end;
mutations run in savepoints inside it (see payloads.mutation). A request without a bearer
token is counted against its address (RATE_LIMIT_ANONYMOUS_PER_ADDRESS) before anything else;
a batch shares one cost budget. Each operation is charged to its caller's cost bucket
(cost_buckets.py) before it runs and answers with `extensions.cost` (graphql/cost.py); a
`documentId` names a stored document (trusted_documents.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError, OperationType
from starlette.requests import Request
from starlette.responses import Response

from portal_graph.auth.repository import record_write
from portal_graph.auth.service import InvalidToken, resolve_viewer
from portal_graph.cost_buckets import Bucket, ThrottleStatus, bucket_for
from portal_graph.db.outage import database_unavailable
from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import Tenancy
from portal_graph.graphql.core.context import Context
from portal_graph.graphql.cost import actual_cost, cost_extension, with_cost
from portal_graph.graphql.execution import Executor, format_error
from portal_graph.graphql.limits import LimitCode
from portal_graph.http import nul_bytes
from portal_graph.http.failures import classify, failure_response
from portal_graph.http.graphql_http import (
    GraphQLBatch,
    GraphQLRequest,
    HttpError,
    parse_graphql_request,
)
from portal_graph.http.request_id import new_request_id
from portal_graph.observability import OperationObservation, observe_operation
from portal_graph.ratelimit import RateDecision
from portal_graph.replicas import Replica, could_write
from portal_graph.runtime import Runtime
from portal_graph.scope import Audience, Viewer
from portal_graph.web import graphiql_response
from portal_graph.web.page_documents import page_documents

log = logging.getLogger("portal_graph.http")
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _media_type(request: Request) -> str:
    accept = request.headers.get("accept", "")
    return GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else JSON


def _json(body: Any, status: int, media_type: str, **headers: str) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status_code=status,
                    media_type=media_type, headers=headers or None)


def _wants_graphiql(request: Request) -> bool:
    return (request.method == "GET" and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
            and "documentId" not in request.query_params)


def _invalid_token(media_type: str) -> Response:
    """RFC 6750: a bearer token that is unknown, expired or revoked is refused (not treated as
    anonymous), so a client notices at once that it must sign in again."""
    body = {"errors": [{"message": "The bearer token is invalid, expired or revoked.",
                        "extensions": {"code": "UNAUTHENTICATED"}}]}
    OperationObservation().finish(body)
    return _json(body, 401, media_type,
                 **{"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _rate_limited(decision: RateDecision, media_type: str) -> Response:
    seconds = decision.retry_after_seconds
    body = {"errors": [{"message": f"Too many requests. Try again in {seconds} seconds.",
                        "extensions": {"code": "RATE_LIMITED", "retryAfter": seconds}}]}
    OperationObservation().finish(body)
    return _json(body, 429, media_type, **{"Retry-After": str(seconds)})


@dataclass
class Answer:
    """One operation's answer: its body, HTTP status and, when throttled, the retry delay."""

    body: dict[str, Any]
    status: int
    retry_after: int | None = None


@dataclass
class BatchBudget:
    """The cost limit, shared by the operations of a batch: ten operations may not cost ten
    times what one may. They run in order until one would take the batch past the limit."""

    remaining: int
    limit: int

    def take(self, cost: int) -> GraphQLError | None:
        if cost > self.remaining:
            self.remaining = -1  # once over, every later operation is refused too
            return GraphQLError(f"Query is too costly: this batch's operations together cost "
                                f"more than {self.limit}.",
                                extensions={"code": LimitCode.QUERY_TOO_COSTLY.value})
        self.remaining -= cost
        return None


class GraphQLEndpoint:
    def __init__(self, runtime: Runtime, executor: Executor) -> None:
        self.runtime = runtime
        self.executor = executor

    async def handle(self, request: Request) -> Response:
        """The answer within REQUEST_TIMEOUT_SECONDS; a failure is answered masked, not raised.

        A request cut off by its deadline or by a lost database connection is rolled back
        whole (the session's transaction never commits), so a mutation either happened or not.
        """
        state = request.scope.setdefault("state", {})
        request_id = state.get("request_id") or new_request_id()
        state["request_id"] = request_id
        deadline = asyncio.timeout(self.runtime.settings.request_timeout_seconds)
        try:
            async with deadline:
                return await self._handle(request)
        except Exception as error:  # every failure gets an answer, and none shows its insides
            code = classify(error, request_id, timed_out=deadline.expired())
            return failure_response(code, request_id, _media_type(request))

    async def _handle(self, request: Request) -> Response:
        settings = self.runtime.settings
        if _wants_graphiql(request):
            if not settings.graphiql:
                return Response("GraphiQL is disabled.", status_code=404)
            return graphiql_response(settings.graphiql_cdn_url)
        media_type = _media_type(request)
        body = await request.body() if request.method == "POST" else b""
        parsed = parse_graphql_request(request.method, request.headers.get("content-type"),
                                       dict(request.query_params), body,
                                       max_batch=settings.max_batch)
        if isinstance(parsed, HttpError):
            refusal = {"errors": [{"message": parsed.message,
                                   "extensions": {"code": parsed.code}}]}
            OperationObservation().finish(refusal)
            return _json(refusal, parsed.status, media_type)
        requests = parsed.requests if isinstance(parsed, GraphQLBatch) else (parsed,)
        token = bearer_token(request)
        if token is None:
            refused = await self._anonymous_refused(request, len(requests))
            if refused is not None:
                return _rate_limited(refused, media_type)
        replicas = self.runtime.replicas
        may_write = any(self._may_write(one) for one in requests)
        replica = None
        # settled(): no statement may still run when the transaction ends (see RequestSession).
        async with self.runtime.sessionmaker() as session, session.begin(), session.settled():
            try:
                viewer = await resolve_viewer(session, token, settings)
            except InvalidToken:
                return _invalid_token(media_type)
            # Who the caller is was read here, on the primary; a read-only request then runs
            # on a replica that has replayed the caller's last write (replicas.py).
            if replicas and not may_write and viewer.organization_id is not None:
                replica = await replicas.choose(viewer.write_lsn)
            if replica is None:
                results = await self._operations(session, viewer, requests, request,
                                                 media_type)
        if replica is not None:
            results = await self._on_replica(replica, viewer, requests, request, media_type)
        elif replicas and may_write:
            await self._record_write(viewer)
        if isinstance(parsed, GraphQLBatch):
            return _json([answer.body for answer in results], 200, media_type)
        answer = results[0]
        if answer.retry_after is not None:
            return _json(answer.body, answer.status, media_type,
                         **{"Retry-After": str(answer.retry_after)})
        return _json(answer.body, answer.status, media_type)

    def _may_write(self, one: GraphQLRequest) -> bool:
        """Whether the operation may be a mutation (so it runs on the primary). A stored
        document is judged by its text when this process has read it, else as a write."""
        if one.document_id is None:
            return could_write(one.query)
        body = self.runtime.trusted_documents.cached(one.document_id)
        return body is None or could_write(body)

    async def _operations(self, session: RequestSession, viewer: Viewer,
                          requests: tuple[GraphQLRequest, ...] | list[GraphQLRequest],
                          request: Request, media_type: str) -> list[Answer]:
        max_cost = self.executor.limits[viewer.audience].max_cost
        budget = BatchBudget(max_cost, max_cost)
        bucket = bucket_for(viewer, client_address(request), self.runtime.bucket_sizes,
                            secret=self.runtime.rate_secret)
        results = []
        for one in requests:
            context = Context(session=session, viewer=viewer, settings=self.runtime.settings,
                              runtime=self.runtime, client_address=client_address(request),
                              request_id=request.scope["state"]["request_id"], request=request)
            with observe_operation() as observed:
                answer = await self._costed(context, one, request.method, media_type,
                                            observed, budget, bucket)
                observed.finish(answer.body)
            results.append(answer)
        return results

    async def _on_replica(self, replica: Replica, viewer: Viewer,
                          requests: tuple[GraphQLRequest, ...] | list[GraphQLRequest],
                          request: Request, media_type: str) -> list[Answer]:
        """The operations on `replica`, acting for the viewer's organization; on the primary
        instead if the replica goes away under them (they only read: running them again is
        safe)."""
        assert self.runtime.replicas is not None and viewer.organization_id is not None
        acting = Tenancy(viewer.organization_id)
        try:
            async with replica.sessionmaker() as session, session.begin(), session.settled():
                await session.set_tenancy(acting)
                return await self._operations(session, viewer, requests, request, media_type)
        except Exception as error:
            if not database_unavailable(error):
                raise
            self.runtime.replicas.failed(replica, error)
        async with self.runtime.sessionmaker() as session, session.begin(), session.settled():
            await session.set_tenancy(acting)
            return await self._operations(session, viewer, requests, request, media_type)

    async def _record_write(self, viewer: Viewer) -> None:
        """After a request that may have written committed: the primary's WAL position on the
        caller's credential, so that replicas serve it only once they have replayed that."""
        credential = viewer.session_id or viewer.api_token_id
        if credential is None or viewer.organization_id is None:
            return
        async with self.runtime.sessionmaker() as session, session.begin():
            await session.set_tenancy(Tenancy(viewer.organization_id))
            await record_write(session, viewer.organization_id, credential,
                               api_token=viewer.api_token_id is not None)

    async def _anonymous_refused(self, request: Request, operations: int,
                                 ) -> RateDecision | None:
        """The refusal of a request without a token over its address's limit, if it is.
        While the database is unreachable it is let through uncounted: its documents are
        still held to the anonymous budgets, and nothing else it could do works anyway."""
        try:
            decision = await self.runtime.rate_guard.count_anonymous(client_address(request),
                                                                 operations)
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.debug("anonymous request not counted: database unavailable (%s)",
                        type(error).__name__)
            return None
        return None if decision.allowed else decision

    async def _costed(self, context: Context, one: GraphQLRequest, method: str,
                      media_type: str, observed: OperationObservation, budget: BatchBudget,
                      bucket: Bucket) -> Answer:
        """The operation's answer with `extensions.cost`. Its requested cost is taken from the
        caller's bucket before any resolver runs (THROTTLED, and nothing runs, when it does
        not fit), then corrected to the actual cost; an operation refused before that is
        charged nothing, and its answer tells the bucket as it is."""
        outcome = await self._one(context, one, method, media_type, observed, budget)
        if not context.settings.cost_accounting:
            return outcome if isinstance(outcome, Answer) else await outcome.run()
        if isinstance(outcome, Answer):
            status = await self._charge(bucket, 0)
            return Answer(with_cost(outcome.body, cost_extension(0, 0, status)), outcome.status)
        runnable = outcome
        status = await self._charge(bucket, runnable.cost)
        if status is not None and not status.admitted:
            return _throttled(runnable.cost, status, context.request_id)
        result = await runnable.run()
        actual = actual_cost(result.body.get("data"))
        if status is not None and actual != status.charged:
            status = await self._charge(bucket, actual, corrects=status.charged)
        return Answer(with_cost(result.body, cost_extension(runnable.cost, actual, status)),
                      result.status)

    async def _charge(self, bucket: Bucket, cost: int,
                      corrects: int | None = None) -> ThrottleStatus | None:
        """Charge the bucket (or correct an earlier charge to `cost`). None while the database
        is unreachable: like an uncounted anonymous request, the request goes on uncharged,
        and whatever else it needs of the database fails on its own."""
        buckets = self.runtime.cost_buckets
        try:
            if corrects is None:
                return await buckets.charge(bucket, cost)
            return await buckets.correct(bucket, corrects, cost)
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.debug("cost not charged: database unavailable (%s)", type(error).__name__)
            return None

    async def _one(self, context: Context, one: GraphQLRequest, method: str,
                   media_type: str, observed: OperationObservation, budget: BatchBudget,
                   ) -> Answer | Runnable:
        """The operation ready to run, or the answer that refuses it."""
        executor = self.executor
        status = 400 if media_type == GRAPHQL_RESPONSE else 200

        def refused(*errors: GraphQLError, status: int = status) -> Answer:
            return Answer({"errors": [format_error(e, context.request_id) for e in errors]},
                          status)

        if nul_bytes.value_has_nul(one.variables):
            return refused(nul_bytes.nul_error())
        query = await self._document(context, one)
        if isinstance(query, GraphQLError):
            return refused(query)
        prepared = executor.prepare(context.viewer.audience, query, one.variables)
        if prepared.document is None:
            return refused(*prepared.errors)
        if nul_bytes.document_has_nul(query, prepared.document):
            return refused(nul_bytes.nul_error())
        over_budget = budget.take(prepared.cost)
        if over_budget is not None:
            return refused(over_budget)
        # A name becomes a metrics label only from a signed-in caller (or from the product's
        # own pages): anonymous clients cannot fill the label slots with names of their own.
        observed.identify(prepared.document, one.operation_name,
                          admit_new_name=context.viewer.audience is not Audience.ANONYMOUS)
        operation = executor.operation_type(prepared.document, one.operation_name)
        if operation is None:
            return refused(GraphQLError("Unknown or ambiguous operation name.",
                                        extensions={"code": "BAD_REQUEST"}), status=400)
        if operation is OperationType.SUBSCRIPTION:
            return refused(GraphQLError("Subscriptions run over a WebSocket to /graphql "
                                        "(graphql-transport-ws), not over HTTP.",
                                        extensions={"code": "BAD_REQUEST"}), status=400)
        if method == "GET" and operation is not OperationType.QUERY:
            return refused(GraphQLError("Mutations are only accepted over POST.",
                                        extensions={"code": "METHOD_NOT_ALLOWED"}), status=405)
        document = prepared.document

        async def run() -> Answer:
            result = await executor.run(context, document, one.variables, one.operation_name,
                                        query)
            for error in result.errors or ():
                if (error.original_error is not None
                        and database_unavailable(error.original_error)):
                    # The whole request is lost with its connection: a 503 to retry, not a
                    # masked field error (see classify).
                    raise error.original_error
            body: dict[str, Any] = {"data": result.data}
            if result.errors:
                body["errors"] = [format_error(e, context.request_id) for e in result.errors]
            return Answer(body, 200)

        return Runnable(prepared.cost, run)

    async def _document(self, context: Context, one: GraphQLRequest) -> str | GraphQLError:
        """The text to run: the query sent, or the stored document named by its id.

        An audience in TRUSTED_DOCUMENTS may send only ids of stored documents (and the
        server's own pages' documents, which they send as text)."""
        if one.document_id is not None:
            body = await self.runtime.trusted_documents.body(context.session, one.document_id)
            if body is None:
                return GraphQLError("No stored document has this documentId.",
                                    extensions={"code": "PERSISTED_QUERY_NOT_FOUND"})
            return body
        audience = context.viewer.audience.value.lower()
        if (audience in context.settings.trusted_document_audiences
                and one.query not in page_documents()):
            return GraphQLError("Send the documentId of a stored document: this API runs only "
                                "stored documents for your audience.",
                                extensions={"code": "PERSISTED_QUERY_ID_REQUIRED"})
        return one.query


@dataclass
class Runnable:
    """An operation that passed every check, with its requested (static) cost."""

    cost: int
    run: Callable[[], Awaitable[Answer]]


def _throttled(requested: int, status: ThrottleStatus, request_id: str) -> Answer:
    seconds = status.retry_after_seconds
    error = GraphQLError(
        f"Throttled: this query's cost ({requested}) is more than your bucket holds now "
        f"({status.currently_available}). Try again in {seconds} seconds.",
        extensions={"code": "THROTTLED", "retryAfter": seconds})
    body = {"errors": [format_error(error, request_id)]}
    return Answer(with_cost(body, cost_extension(requested, 0, status)), 429, seconds)
