"""The ASGI application: /graphql (HTTP and WebSocket), health and readiness, the accept page,
the outbox worker and the event hub."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute

from portal_graph import maintenance
from portal_graph.config import Settings, get_settings
from portal_graph.events import EventHub
from portal_graph.graphql.budgets import audience_limits
from portal_graph.graphql.endpoint import GraphQLEndpoint
from portal_graph.graphql.execution import Executor
from portal_graph.graphql.live_endpoint import LiveEndpoint
from portal_graph.http.guards import BodySizeLimit, SecurityHeaders, cors_middleware_kwargs
from portal_graph.http.health import health_routes, libpq_url
from portal_graph.http.request_id import RequestIdMiddleware
from portal_graph.mail.transport import transport_from_settings
from portal_graph.mail.worker import OutboxWorker
from portal_graph.observability import (
    CountedTransport,
    ObservabilityMiddleware,
    instrument_engine,
    metrics_routes,
    setup_tracing,
    shutdown_tracing,
)
from portal_graph.observability.metrics import EVENTS_HEARD
from portal_graph.runtime import Runtime
from portal_graph.web import web_routes


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Starlette:
    settings = settings or get_settings()
    runtime = runtime or Runtime.create(settings)
    # The audience schemas, their rules and caches: built once per app, over the runtime.
    executor = Executor(audience_limits(runtime.settings), execution=runtime.settings.execution)
    setup_tracing()
    for engine in (runtime.engine, runtime.limiter_engine):
        instrument_engine(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        # Start-up objects (schemas, modules) live forever: move them out of the collector's
        # way. Young collections stay small (5,000 objects: a pause of ~2 ms) but what
        # survives them is collected 200 times less often, since a request's objects die with
        # it. Measured in process: GC per 500-job request 103 ms (defaults) -> 2.5 ms; with
        # (50_000, 20, 20) it was 6-8 ms, in pauses of ~30 ms every ~100 small requests
        # (the search's p99).
        gc.collect()
        gc.freeze()
        gc.set_threshold(5_000, 200, 20)
        worker_task = None
        if settings.run_outbox_worker:
            worker = OutboxWorker(runtime.sessionmaker, settings, runtime.box,
                                  CountedTransport(transport_from_settings(settings)))
            worker_task = asyncio.create_task(worker.run(stop), name="outbox-worker")
        sweeper = asyncio.create_task(maintenance.run(runtime, stop), name="maintenance")
        # The process's one LISTEN connection (straight to the primary, never through
        # PgBouncer): every committed domain event, from any process or instance.
        hub = EventHub(settings.direct_url or libpq_url(runtime.engine.url))
        runtime.hub = hub
        await hub.start()
        counting = asyncio.create_task(_count_events(hub), name="events-heard")
        if runtime.replicas is not None:
            await runtime.replicas.start()
        try:
            yield
        finally:
            stop.set()
            counting.cancel()
            await hub.stop()
            if runtime.replicas is not None:
                await runtime.replicas.stop()
            await sweeper
            if worker_task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(worker_task, timeout=30)
            await runtime.close()
            shutdown_tracing()

    endpoint = GraphQLEndpoint(runtime, executor)
    routes = [
        Route("/graphql", endpoint.handle, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", LiveEndpoint(runtime, executor).handle),
        *health_routes(runtime.engine.url),
        *web_routes(settings.graphiql_cdn_url),
        *metrics_routes(),
    ]
    # Outermost first. The request id wraps everything, so every response carries it; the
    # body limit is innermost, so its 413 gets the security and CORS headers too.
    middleware = [Middleware(RequestIdMiddleware, trust_incoming=settings.trust_proxy_headers),
                  Middleware(ObservabilityMiddleware),
                  Middleware(SecurityHeaders)]
    if settings.cors_allow_origins:
        middleware.append(Middleware(CORSMiddleware,
                                     **cors_middleware_kwargs(settings.cors_allow_origins)))
    middleware.append(Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.executor = executor  # tests and diagnosis read its plans' counters
    return app


async def _count_events(hub: EventHub) -> None:
    """Counts what the hub hears (`portal_graph_events_heard` on /metrics)."""
    subscription = hub.subscribe(None)
    try:
        while not subscription.closed:
            event = await subscription.next()
            if event is not None:
                EVENTS_HEARD.labels(event.kind.value).inc()
            subscription.take_missed()
    finally:
        subscription.close()
