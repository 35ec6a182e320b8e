"""A real server in the tests' event loop (uvicorn on a free port), so WebSockets are real and
the app shares the session's engine and event hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from tests.hardening.processes import free_port


@pytest.fixture(scope="session")
async def live_url(app: Any) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           lifespan="on", ws="websockets-sansio"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.05)
    await app.state.runtime.hub.connected.wait()
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving
