"""`/graphql` over WebSocket: the graphql-transport-ws protocol (the `graphql-ws` library's).

    client                         server
    connection_init {payload}  ->  connection_ack, or close 4403 (credential refused)
    subscribe {id, payload}    ->  next {id, payload} ... complete {id}, or error {id, payload}
    complete {id}              ->  (the subscription stops)
    ping                       ->  pong

Authentication is in `connection_init`'s payload, `{"Authorization": "Bearer <token>"}` (a
session token or an API token, as over HTTP); the connection then uses its audience's schema,
limits and rules, exactly like a request. Only subscriptions run here: queries and mutations go
over HTTP. The connection closes (4403) when its credential ends or stands for something else
(signed out, revoked, deactivated, role changed): checked on every event a subscription
delivers, whenever the member's access changes, and every SUBSCRIPTION_RECHECK_SECONDS.
Limits: SUBSCRIPTIONS_PER_CONNECTION, and SUBSCRIPTIONS_PER_PERSON in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import uuid
from collections import Counter
from typing import Any

import orjson
from graphql import DocumentNode, ExecutionResult, GraphQLError, OperationType, subscribe
from graphql.execution.async_iterables import aclosing
from starlette.websockets import WebSocket, WebSocketDisconnect

from portal_graph.auth.service import InvalidToken, resolve_viewer
from portal_graph.db.outage import database_unavailable
from portal_graph.events import EventKind
from portal_graph.graphql.execution import Executor, format_error
from portal_graph.http import nul_bytes
from portal_graph.http.request_id import new_request_id
from portal_graph.live.watch import CredentialEnded, LiveContext, fresh_viewer
from portal_graph.runtime import Runtime
from portal_graph.scope import Viewer

log = logging.getLogger("portal_graph.live")
PROTOCOL = "graphql-transport-ws"
ACCESS_EVENTS = frozenset({EventKind.EXTERNAL_USER_UPDATED,
                           EventKind.EXTERNAL_USER_ACCESS_REVOKED})


class Close(Exception):
    """Close the connection with a graphql-transport-ws code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def token_from(payload: Any) -> str | None:
    """The bearer token of a connection_init payload: `Authorization: Bearer <t>` (any case of
    the key, as GraphiQL's headers pane sends it) or `token`."""
    if not isinstance(payload, dict):
        return None
    for key, value in payload.items():
        if isinstance(key, str) and key.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    given = payload.get("token")
    return given if isinstance(given, str) and given else None


class LiveEndpoint:
    """Per process: accepts WebSockets at /graphql and counts subscriptions per person."""

    def __init__(self, runtime: Runtime, executor: Executor) -> None:
        self.runtime = runtime
        self.executor = executor
        self.held: Counter[uuid.UUID] = Counter()

    async def handle(self, websocket: WebSocket) -> None:
        if PROTOCOL not in (websocket.scope.get("subprotocols") or ()):
            await websocket.accept()
            await websocket.close(4406, "Subprotocol not acceptable")
            return
        await websocket.accept(subprotocol=PROTOCOL)
        await LiveConnection(self, websocket).run()


class LiveConnection:
    def __init__(self, endpoint: LiveEndpoint, websocket: WebSocket) -> None:
        self.endpoint = endpoint
        self.runtime = endpoint.runtime
        self.executor = endpoint.executor
        self.settings = endpoint.runtime.settings
        self.websocket = websocket
        self.viewer: Viewer | None = None
        self.token = ""
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.closing: asyncio.Future[Close] = asyncio.get_running_loop().create_future()
        self._send_lock = asyncio.Lock()
        self.ready = asyncio.Event()  # connection_init accepted
        client = websocket.client
        self.client_address = client.host if client else None

    # --- the connection ------------------------------------------------------------------

    async def run(self) -> None:
        reader = asyncio.create_task(self._read(), name="live-reader")
        guard: asyncio.Task[None] | None = None
        try:
            ready = asyncio.ensure_future(self.ready.wait())
            await asyncio.wait({ready, self.closing},  # type: ignore[type-var]
                               timeout=self.settings.connection_init_timeout_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if self.viewer is None:
                self.end(Close(4408, "Connection initialisation timeout"))
            else:
                guard = asyncio.create_task(self._guard(), name="live-guard")
            await self._close(await self.closing)
        finally:
            tasks = [t for t in (reader, guard, *self.operations.values()) if t is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def end(self, close: Close) -> None:
        if not self.closing.done():
            self.closing.set_result(close)

    async def _close(self, close: Close) -> None:
        if close.code == 1000 and close.reason == "disconnected":
            return  # the client went away
        with contextlib.suppress(Exception):
            await self.websocket.close(close.code, close.reason[:120])

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_text(orjson.dumps(message).decode())

    async def _read(self) -> None:
        try:
            while True:
                text = await self.websocket.receive_text()
                if len(text) > self.settings.max_body_bytes:
                    raise Close(4400, "Message too large")
                try:
                    message = orjson.loads(text)
                except orjson.JSONDecodeError:
                    raise Close(4400, "Invalid message received") from None
                if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                    raise Close(4400, "Invalid message received")
                await self._dispatch(message)
        except Close as close:
            self.end(close)
        except (WebSocketDisconnect, RuntimeError):
            self.end(Close(1000, "disconnected"))

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "connection_init":
            if self.viewer is not None:
                raise Close(4429, "Too many initialisation requests")
            await self._authenticate(message.get("payload"))
        elif kind == "subscribe":
            if self.viewer is None:
                raise Close(4401, "Unauthorized")
            await self._subscribe(message)
        elif kind == "complete":
            task = self.operations.pop(str(message.get("id")), None)
            if task is not None:
                task.cancel()
        else:
            raise Close(4400, f"Unexpected message type {kind[:40]!r}")

    async def _authenticate(self, payload: Any) -> None:
        token = token_from(payload)
        if token is None:
            raise Close(4403, "Forbidden: sign in (connection_init payload Authorization)")
        async with self.runtime.sessionmaker() as session, session.begin(), session.settled():
            try:
                viewer = await resolve_viewer(session, token, self.settings)
            except InvalidToken:
                raise Close(4403, "Forbidden: the token is invalid, expired or revoked") from None
        self.viewer, self.token = viewer, token
        self.ready.set()
        await self.send({"type": "connection_ack"})

    async def _guard(self) -> None:
        """Close the connection when its credential ends: checked when the member's access
        changes (an event) and every SUBSCRIPTION_RECHECK_SECONDS."""
        viewer = self.viewer
        assert viewer is not None
        every = self.settings.subscription_recheck_seconds
        hub = self.runtime.hub
        assert hub is not None, "the app starts the event hub before serving"
        heard = hub.subscribe(viewer.organization_id)
        try:
            due = time.monotonic() + every
            while True:
                try:
                    async with asyncio.timeout(max(0.0, due - time.monotonic())):
                        event = await heard.next()
                except TimeoutError:
                    event = None
                else:
                    missed = heard.take_missed()
                    if not missed and (event is None or event.kind not in ACCESS_EVENTS
                                       or event.subject_id != viewer.external_user_id):
                        continue
                due = time.monotonic() + every
                await self._check_credential()
        finally:
            heard.close()

    async def _check_credential(self) -> None:
        context = self._context()
        try:
            async with self.runtime.sessionmaker() as session, session.begin(), \
                    session.settled():
                await fresh_viewer(session, context)
        except CredentialEnded as ended:
            self.end(Close(4403, f"Forbidden: {ended}"))
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("live: credential not checked, database unavailable (%s)",
                        type(error).__name__)

    # --- one subscription ----------------------------------------------------------------

    async def _subscribe(self, message: dict[str, Any]) -> None:
        id_, payload = message.get("id"), message.get("payload")
        if not isinstance(id_, str) or not id_ or len(id_) > 100 or not isinstance(payload, dict):
            raise Close(4400, "Invalid message received")
        if id_ in self.operations:
            raise Close(4409, f"Subscriber for {id_} already exists")
        query, variables = payload.get("query"), payload.get("variables") or {}
        operation_name = payload.get("operationName")
        if (not isinstance(query, str) or not isinstance(variables, dict)
                or not isinstance(operation_name, str | None)):
            raise Close(4400, "Invalid message received")
        viewer = self.viewer
        assert viewer is not None and viewer.person_id is not None
        request_id = new_request_id()
        refusal = self._over_limits(viewer.person_id)
        if refusal is None and (nul_bytes.value_has_nul(variables) or "\x00" in query):
            refusal = nul_bytes.nul_error()
        if refusal is not None:
            await self.send({"type": "error", "id": id_,
                             "payload": [format_error(refusal, request_id)]})
            return
        executor = self.executor
        prepared = executor.prepare(viewer.audience, query, variables)
        if prepared.document is None:
            await self.send({"type": "error", "id": id_,
                             "payload": [format_error(e, request_id) for e in prepared.errors]})
            return
        operation = executor.operation_type(prepared.document, operation_name)
        if operation is not OperationType.SUBSCRIPTION:
            error = GraphQLError("Only subscriptions run over WebSocket: send queries and "
                                 "mutations over HTTP.", extensions={"code": "BAD_REQUEST"})
            await self.send({"type": "error", "id": id_,
                             "payload": [format_error(error, request_id)]})
            return
        self.endpoint.held[viewer.person_id] += 1
        self.operations[id_] = asyncio.create_task(
            self._run(id_, prepared.document, variables, operation_name, request_id,
                      viewer.person_id),
            name=f"live-subscription-{id_}")

    def _over_limits(self, person_id: uuid.UUID) -> GraphQLError | None:
        settings = self.settings
        if len(self.operations) >= settings.subscriptions_per_connection:
            limit, what = settings.subscriptions_per_connection, "on one connection"
        elif self.endpoint.held[person_id] >= settings.subscriptions_per_person:
            limit, what = settings.subscriptions_per_person, "for one person"
        else:
            return None
        return GraphQLError(f"At most {limit} subscriptions {what}: complete one first.",
                            extensions={"code": "TOO_MANY_SUBSCRIPTIONS"})

    def _context(self, request_id: str = "") -> LiveContext:
        assert self.viewer is not None
        return LiveContext(session=None, viewer=self.viewer,  # type: ignore[arg-type]
                           settings=self.settings, runtime=self.runtime,
                           client_address=self.client_address, request_id=request_id,
                           token=self.token)

    async def _run(self, id_: str, document: DocumentNode, variables: dict[str, Any],
                   operation_name: str | None, request_id: str, person_id: uuid.UUID) -> None:
        context = self._context(request_id)
        schema = self.executor.schemas[context.viewer.audience]
        try:
            stream: Any = subscribe(schema, document, context_value=context,
                                    variable_values=variables, operation_name=operation_name)
            if inspect.isawaitable(stream):
                stream = await stream
            if isinstance(stream, ExecutionResult):
                await self.send({"type": "error", "id": id_, "payload": [
                    format_error(e, request_id) for e in stream.errors or ()]})
                return
            async with aclosing(stream) as results:
                async for result in results:
                    body: dict[str, Any] = {"data": result.data}
                    if result.errors:
                        ended = _credential_ended(result.errors)
                        if ended is not None:
                            raise ended
                        body["errors"] = [format_error(e, request_id) for e in result.errors]
                    await self.send({"type": "next", "id": id_, "payload": body})
            await self.send({"type": "complete", "id": id_})
        except CredentialEnded as ended:
            self.end(Close(4403, f"Forbidden: {ended}"))
        except (WebSocketDisconnect, RuntimeError):
            self.end(Close(1000, "disconnected"))
        except Exception as error:
            log.error("live subscription failed", exc_info=error,
                      extra={"request_id": request_id})
            with contextlib.suppress(Exception):
                await self.send({"type": "error", "id": id_, "payload": [
                    {"message": "Internal server error",
                     "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}}]})
        finally:
            self.operations.pop(id_, None)
            held = self.endpoint.held
            held[person_id] -= 1
            if held[person_id] <= 0:
                del held[person_id]


def _credential_ended(errors: list[GraphQLError]) -> CredentialEnded | None:
    for error in errors:
        if isinstance(error.original_error, CredentialEnded):
            return error.original_error
    return None


__all__ = ["PROTOCOL", "LiveEndpoint", "token_from"]
