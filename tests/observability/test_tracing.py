"""Tracing is optional: off without OTEL_EXPORTER_OTLP_ENDPOINT, one log line and no tracing
without the packages, and with them a server span, an operation span and SQL spans."""

from __future__ import annotations

import logging
import sys

import pytest

from portal_graph.observability import tracing
from tests.observability.test_metrics import PROBE, _admin_token

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


@pytest.fixture
def untraced(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(tracing, "_active", None)
    monkeypatch.setattr(tracing, "_configured", False)


def test_without_the_endpoint_variable_nothing_is_traced(untraced):
    assert tracing.setup_tracing({}) is None
    assert tracing.active() is None


def test_without_the_packages_it_logs_one_line_and_runs_untraced(untraced, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import fails as if not installed
    caplog.set_level(logging.INFO, logger="portal_graph.observability")

    first = tracing.setup_tracing(ENDPOINT)
    second = tracing.setup_tracing(ENDPOINT)

    assert first is None and second is None
    lines = [r for r in caplog.records if r.name == "portal_graph.observability"]
    assert len(lines) == 1
    assert lines[0].levelno == logging.WARNING
    assert "portal-graph[otel]" in lines[0].getMessage()


async def test_a_request_makes_server_operation_and_sql_spans(untraced, api, make, log_lines):
    sdk = pytest.importorskip("opentelemetry.sdk.trace")
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    exporter = memory.InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    token = await _admin_token(make)
    tracing.use(provider)
    try:
        await api(PROBE, token=token,
                  traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    finally:
        tracing.use(None)

    spans = exporter.get_finished_spans()
    server = next(s for s in spans if s.name == "POST /graphql")
    operation = next(s for s in spans if s.name == "query ObservabilityProbe")
    sql = [s for s in spans if s.name == "SQL"]
    assert f"{server.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["portal_graph.request_id"] == api.response.headers["x-request-id"]
    assert operation.parent.span_id == server.context.span_id
    assert operation.attributes["portal_graph.outcome"] == "ok"
    assert len(sql) >= 2
    assert all(s.context.trace_id == server.context.trace_id for s in sql)
    assert any(s.parent.span_id == operation.context.span_id for s in sql)
    access = next(e for e in log_lines.entries() if e["logger"] == "portal_graph.access")
    assert access["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
