"""An app whose SQL statements are counted, for tests that bound statements per request.

Its own Runtime (engine and pool) so that the counter sees only this app's statements, and a
cost limit raised past the portal query's static upper bound: the multiplicative cost model
prices `customers(first: 50) { jobs(first: 100) { mapCaptures(first: 10) ... } }` at far more
than the default 5000 (it prices the most a query could return, not what the data holds).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from portal_graph.config import Settings
from tests.conftest import Api


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)
    parameters: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.statements)

    def clear(self) -> None:
        self.statements.clear()
        self.parameters.clear()

    def record(self, conn: Any, cursor: Any, statement: str, parameters: Any,
               *args: Any) -> None:
        self.statements.append(statement)
        self.parameters.append(parameters)


@pytest.fixture(scope="session")
async def counted_runtime(settings: Settings) -> AsyncIterator[Any]:
    from portal_graph.runtime import Runtime

    roomy = settings.model_copy(update={"query_max_cost": 10_000_000})
    runtime = Runtime.create(roomy, roomy.database_url)
    yield runtime
    await runtime.close()


@pytest.fixture(scope="session")
def counted_app(counted_runtime: Any) -> Any:
    from portal_graph.app import create_app

    return create_app(counted_runtime.settings, counted_runtime)


@pytest.fixture
def statements(counted_runtime: Any) -> Iterator[StatementLog]:
    log = StatementLog()
    target = counted_runtime.engine.sync_engine
    event.listen(target, "before_cursor_execute", log.record)
    try:
        yield log
    finally:
        event.remove(target, "before_cursor_execute", log.record)


@pytest.fixture(params=["compiled", "graphql"])
def execution(request: pytest.FixtureRequest, counted_app: Any) -> Iterator[str]:
    """Every counted test runs on both execution paths (EXECUTION=compiled|graphql)."""
    executor = counted_app.state.executor
    before = executor.execution
    executor.execution = request.param
    yield request.param
    executor.execution = before


@pytest.fixture
async def counted_api(counted_app: Any, engine: Any, execution: str) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=counted_app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
        yield Api(client)
