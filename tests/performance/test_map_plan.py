"""`mapCaptures(within:)` reads a range of the (organization_id, latitude, longitude) index
(migration 0010), for staff and external users alike, whatever the organization's size: 20,000
captures spread over Britain, a box of a few streets."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from portal_graph.db import models
from tests.performance.test_search_plan import _plan_lines

WITHIN = """query($within: BoundingBox!) {
  mapCaptures(first: 20, within: $within) { edges { node { id latitude longitude } } }
}"""
# One customer's 20,000 captures, 50-58 N, 6 W-2 E, deterministic.
CAPTURES = text("""
INSERT INTO map_captures (organization_id, id, customer_id, latitude, longitude)
SELECT :org, gen_random_uuid(), :customer,
       50 + (n * 7919 % 20000) / 2500.0, -6 + (n * 104729 % 20000) / 2500.0
FROM generate_series(1, 20000) n
""")
BOX = {"south": 51.50, "west": -0.20, "north": 51.52, "east": -0.10}


async def _plan(counted_api: Any, statements: Any, engine: Any, token: str) -> list[str]:
    statements.clear()
    result = await counted_api(WITHIN, {"within": BOX}, token=token)
    assert "errors" not in result, result
    sql, parameters = next((s, p) for s, p in zip(statements.statements, statements.parameters,
                                                  strict=True) if "latitude BETWEEN" in s)
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE map_captures"))
        raw = (await conn.get_raw_connection()).driver_connection
        [row] = await raw.fetch("EXPLAIN (FORMAT JSON) " + sql, *parameters)
        await conn.rollback()
    explained = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    lines = _plan_lines(explained[0]["Plan"])
    print("\n".join(lines))
    return lines


async def test_a_box_is_a_range_of_the_position_index(counted_api, statements, make, engine):
    org = await make.organization()
    customer = await make.customer(org)
    admin = await make.staff(org, role=models.Role.ADMIN)
    external = await make.external(org, [customer])
    async with engine.begin() as conn:
        await conn.execute(CAPTURES, {"org": org, "customer": customer})
    for person in (admin["person"]["id"], external["person"]["id"]):
        plan = await _plan(counted_api, statements, engine,
                           await make.session_token(org, person))
        assert any(line.endswith("ix_map_captures_org_position") for line in plan), plan
        assert not any(line.startswith("Seq Scan map_captures") for line in plan), plan
