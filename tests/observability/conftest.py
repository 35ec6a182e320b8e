"""Reading /metrics, and catching log lines as the JSON formatter writes them."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from portal_graph.logs import JsonFormatter
from portal_graph.observability import RequestContextFilter, metrics


class MetricsPage:
    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [sample for family in text_string_to_metric_families(text)
                        for sample in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """A sample's value; 0 for a series that does not exist yet."""
        for sample in self.samples:
            if sample.name == name and all(sample.labels.get(k) == v
                                           for k, v in labels.items()):
                return float(sample.value)
        return 0.0


@pytest.fixture
async def scraper(app: Any) -> Any:
    """A client on this machine (127.0.0.1): without METRICS_TOKEN, the only one /metrics
    answers."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40001))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
        yield client


async def scrape(client: httpx.AsyncClient) -> MetricsPage:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return MetricsPage(response.text)


class LogLines:
    """Every record logged while installed, formatted by the production JSON formatter."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def entries(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.stream.getvalue().splitlines() if line]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    lines = LogLines()
    handler = logging.StreamHandler(lines.stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture(autouse=True)
def fresh_operation_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Other tests may have used up this process's operation-name labels."""
    monkeypatch.setattr(metrics, "_known_operations", set())
