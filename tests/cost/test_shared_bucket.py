"""One bucket per caller, whichever process serves the request: the level lives in
PostgreSQL, so two apps with their own engines (and a real `portal-graph serve` process) all
charge and see the same bucket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from portal_graph.config import Settings
from tests.cost.conftest import World
from tests.cost.test_cost_extension import THREE_JOBS, THREE_JOBS_ACTUAL, cost
from tests.hardening.processes import start_server

BUCKET = "20/1"  # two charges of 10 (corrected to 8) fit, a third does not


@pytest.fixture
async def separate_apps(settings: Settings) -> AsyncIterator[Callable[[], Any]]:
    """Apps with runtimes of their own (engines, pools, caches), as two processes have."""
    from portal_graph.app import create_app
    from portal_graph.runtime import Runtime

    made: list[Any] = []

    def build() -> Any:
        tuned = settings.model_copy(update={"cost_bucket_external": BUCKET})
        made.append(Runtime.create(tuned, tuned.database_url))
        return create_app(tuned, made[-1])

    yield build
    for runtime in made:
        await runtime.close()


async def test_two_apps_on_one_database_share_one_bucket(separate_apps: Any, api_for: Any,
                                                         world: World) -> None:
    first_app, second_app = api_for(separate_apps()), api_for(separate_apps())

    one = await first_app(THREE_JOBS, token=world.external_token)
    two = await second_app(THREE_JOBS, token=world.external_token)
    three = await first_app(THREE_JOBS, token=world.external_token)
    four = await second_app(THREE_JOBS, token=world.external_token)

    assert "errors" not in one and "errors" not in two
    # It holds less than the second process's own charge left: the first one's is in it too.
    assert cost(two)["throttleStatus"]["currentlyAvailable"] < 20 - THREE_JOBS_ACTUAL
    assert three["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert four["errors"][0]["extensions"]["code"] == "THROTTLED"


async def test_a_serve_process_and_an_app_share_one_bucket(
        separate_apps: Any, api_for: Any, world: World, database_url: str,
        settings: Settings, tmp_path: Path) -> None:
    server = start_server(tmp_path, database_url, secret_key=settings.secret_key or "",
                          COST_BUCKET_EXTERNAL=BUCKET)
    try:
        in_process = api_for(separate_apps())
        headers = {"Authorization": f"Bearer {world.external_token}"}
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:

            async def served() -> dict[str, Any]:
                response = await http.post("/graphql", json={"query": THREE_JOBS},
                                           headers=headers)
                return response.json()  # type: ignore[no-any-return]

            one = await in_process(THREE_JOBS, token=world.external_token)
            two = await served()
            three = await in_process(THREE_JOBS, token=world.external_token)
            four = await served()
    finally:
        server.terminate()

    assert "errors" not in one and "errors" not in two
    # It holds less than the second process's own charge left: the first one's is in it too.
    assert cost(two)["throttleStatus"]["currentlyAvailable"] < 20 - THREE_JOBS_ACTUAL
    assert three["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert four["errors"][0]["extensions"]["code"] == "THROTTLED"
