"""A small soak (bench/soak.py runs the big one): a real server stays healthy under load."""

from __future__ import annotations

import pytest
from bench.soak import soak

from tests.hardening.conftest import World
from tests.hardening.processes import ServerProcess


@pytest.mark.slow
async def test_a_server_under_load_answers_everything_and_keeps_nothing(
    server: ServerProcess, world: World, database_url: str
) -> None:
    report = await soak(server.url, world.admin_token, server.pid, database_url,
                        requests=360, concurrency=24, warmup=96, seconds=40)

    print("\n" + "\n".join(report.lines()))
    assert report.load.requests == 360
    assert report.load.refused_as_expected == 60
    assert report.problems() == []
