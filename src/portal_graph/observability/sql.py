"""Counting (and, when tracing, timing) every SQL statement against the request it serves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_graph.observability import tracing
from portal_graph.observability.context import current_request

_SPAN = "_portal_graph_span"


def _before(conn: Connection, cursor: Any, statement: str, parameters: Any,
            context: ExecutionContext | None, executemany: bool) -> None:
    observation = current_request.get()
    if observation is not None:
        observation.sql_statements += 1
    tracer = tracing.active()
    if tracer is not None and context is not None:
        setattr(context, _SPAN, tracer.start_sql_span(statement))


def _after(conn: Connection, cursor: Any, statement: str, parameters: Any,
           context: ExecutionContext | None, executemany: bool) -> None:
    span = getattr(context, _SPAN, None)
    if span is not None:
        span.end()


def _error(exception_context: Any) -> None:
    span = getattr(exception_context.execution_context, _SPAN, None)
    if span is not None:
        span.record_exception(exception_context.original_exception)
        span.end()


def instrument_engine(engine: AsyncEngine | Engine) -> None:
    """Listen to the engine's statements; calling it again for the same engine does nothing."""
    target = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    if event.contains(target, "before_cursor_execute", _before):
        return
    event.listen(target, "before_cursor_execute", _before)
    event.listen(target, "after_cursor_execute", _after)
    event.listen(target, "handle_error", _error)
