"""Property: a compiled read plan answers exactly what graphql-core answers, byte for byte.

Worlds come from the visibility property's generator (tests/permissions), with awkward values
written over them: floats (51.5, 1e-7, -0.0, 0.1 + 0.2, 5e-324), decimals, timestamps with and
without microseconds, non-ASCII text, JSON geometry, nulls. For each world, every member of
each audience asks random documents over their audience's schema (documents.py): each is run
in its own transaction with fresh loaders by the executor as it serves (EXECUTION=compiled:
the plan, or graphql-core where the plan declines) and by graphql-core alone, and the two
responses, dumped as the endpoint dumps them (orjson, errors formatted), must be equal.

COMPILED_EXAMPLES sets the number of worlds (default 4), COMPILED_DOCUMENTS the documents per
member and world (default 10; a world has 8-15 members: some 400 documents a run),
COMPILED_DEPTH the levels of objects (default 5). COMPILED_VERBOSE=1 prints how many documents
were asked and how many a plan answered, =2 every document too.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from portal_graph.auth.service import resolve_viewer
from portal_graph.graphql.core.context import Context
from portal_graph.graphql.execution import format_error
from portal_graph.scoped_sql.pagination import encode_cursor
from tests.compiled.documents import Documents, Values
from tests.conftest import TABLES
from tests.permissions.test_visibility_properties import worlds
from tests.permissions.world import World, gid, store

EXAMPLES = int(os.environ.get("COMPILED_EXAMPLES", "4"))
DOCUMENTS = int(os.environ.get("COMPILED_DOCUMENTS", "10"))
DEPTH = int(os.environ.get("COMPILED_DEPTH", "5"))

FLOATS = (51.5, 1e-7, -0.0, 0.1 + 0.2, 5e-324, -89.99999999999999, -123.456789012345, 0.0)
TEXTS = ("Zoë Ångström", "東京の現場 ✓", "plain", "quote \" and \\ backslash", "")
GEOMETRIES = ('{"type": "Point", "coordinates": [1e-7, -0.0]}',
              '{"type": "LineString", "coordinates": [[51.5, -0.1], [51.50001, 0.12345678901]]}',
              None)
MOMENTS = (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
           datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
           datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=UTC), None)
PRICES = (Decimal("0.10"), Decimal("100"), Decimal("12345.67"), Decimal("0.01"), None)


async def awkward(engine: Any, world: World, seed: int) -> None:
    """Write the values that serialise differently most easily over the world's rows."""
    pick = random.Random(seed).choice
    async with engine.begin() as conn:
        for id_ in world.captures:
            await conn.execute(text(
                "UPDATE map_captures SET latitude = :lat, longitude = :lon, note = :note, "
                "geometry = CAST(:geometry AS jsonb), captured_at = :at WHERE id = :id"),
                {"lat": max(-90.0, min(90.0, pick(FLOATS))), "lon": pick(FLOATS),
                 "note": pick((*TEXTS, None)), "geometry": pick(GEOMETRIES),
                 "at": pick(MOMENTS[:3]), "id": id_})
        for id_ in world.jobs:
            await conn.execute(text(
                "UPDATE jobs SET title = :title, price = :price, scheduled_for = :at, "
                "internal_notes = :notes WHERE id = :id"),
                {"title": pick(TEXTS[:-1]), "price": pick(PRICES), "at": pick(MOMENTS),
                 "notes": pick((*TEXTS, None)), "id": id_})
        for id_ in world.assets:
            await conn.execute(text(
                "UPDATE assets SET kind = :kind, serial_number = :serial, location = :loc "
                "WHERE id = :id"), {"kind": pick((*TEXTS, None)), "serial": pick((*TEXTS, None)),
                                    "loc": pick((*TEXTS, None)), "id": id_})
        for id_ in world.customers:
            await conn.execute(text("UPDATE customers SET name = :name WHERE id = :id"),
                               {"name": f"{pick(TEXTS)} {id_.hex[:4]}", "id": id_})


def values_of(world: World) -> Values:
    ids = [gid(type_name, id_) for type_name, id_ in world.typed_ids()]
    ids += [gid("Job", next(iter(world.captures), world.organizations[0])), "not-an-id", ""]
    cursors = [encode_cursor([id_]) for id_ in [*world.jobs, *world.captures][:6]]
    cursors += [encode_cursor([row.name, id_]) for id_, row in list(world.customers.items())[:3]]
    by_type: dict[str, list[str]] = {}
    for type_name, id_ in world.typed_ids():
        by_type.setdefault(type_name, []).append(gid(type_name, id_))
    by_type["Node"] = [i for name in ("Customer", "Job", "Asset", "MapCapture")
                       for i in by_type.get(name, [])]
    return Values(ids=ids, cursors=cursors, by_type=by_type)


def dumped(data: Any, errors: Any, request_id: str) -> bytes:
    body: dict[str, Any] = {"data": data}
    if errors:
        body["errors"] = [format_error(e, request_id) for e in errors]
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


async def answer(runtime: Any, executor: Any, token: str, query: str,
                 variables: dict[str, Any], compiled: bool) -> bytes | None:
    """One operation in its own transaction; None when the limits or validation refuse it."""
    async with runtime.sessionmaker() as session, session.begin(), session.settled():
        viewer = await resolve_viewer(session, token, runtime.settings)
        prepared = executor.prepare(viewer.audience, query, variables)
        if prepared.document is None:
            return None
        context = Context(session=session, viewer=viewer, settings=runtime.settings,
                          runtime=runtime, request_id="equivalence")
        if compiled:
            result = await executor.run(context, prepared.document, variables, "Q", query)
        else:
            result = await executor.run_graphql(context, prepared.document, variables, "Q")
        return dumped(result.data, result.errors, "equivalence")


@settings(max_examples=EXAMPLES, deadline=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(world=worlds(), seed=st.integers(0, 2**16), data=st.data())
async def test_compiled_plans_answer_what_graphql_core_answers(
        app, runtime, sessionmaker, engine, world, seed, data):
    executor = app.state.executor
    if executor.execution != "compiled":
        pytest.skip("EXECUTION=graphql: nothing compiled to compare")
    tokens = await store(sessionmaker, world)
    try:
        await awkward(engine, world, seed)
        values = values_of(world)
        compiled_before = executor.compiled.ran
        members = [m for m in world.members if m.id not in world.deactivated]
        problems = []
        asked = 0
        for member in members:
            schema = executor.schemas[_audience(member)]
            documents = Documents(schema, values, DEPTH).strategy()
            for _ in range(DOCUMENTS):
                drawn = data.draw(documents, label=f"document of {world.labels[member.id]}")
                query = drawn.document()
                try:
                    token = tokens[member.id]
                    ours = await answer(runtime, executor, token, query, drawn.variables, True)
                    theirs = await answer(runtime, executor, token, query, drawn.variables,
                                          False)
                except BaseException as error:
                    raise AssertionError(f"{query}\n{drawn.variables}: {error!r}") from error
                if ours is None:
                    continue
                if os.environ.get("COMPILED_VERBOSE") == "2":
                    print(query, drawn.variables, ours[:300])
                asked += 1
                if ours != theirs:
                    problems.append(f"as {world.labels[member.id]}:\n{query}\n"
                                    f"variables {drawn.variables}\ncompiled: {ours!r}\n"
                                    f"graphql-core: {theirs!r}")
        assert not problems, "\n\n".join(problems[:3])
        if os.environ.get("COMPILED_VERBOSE"):
            print(f"asked {asked}, compiled {executor.compiled.ran - compiled_before}, "
                  f"declined so far {executor.compiled.declined}")
        # The plans must actually run: most generated documents are plannable.
        assert asked == 0 or executor.compiled.ran > compiled_before
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {TABLES} CASCADE"))


def _audience(member: Any) -> Any:
    from portal_graph.scope import Audience

    if member.is_external:
        return Audience.EXTERNAL
    return Audience.ADMIN if member.role.value == "ADMIN" else Audience.STAFF
