"""Rows -> response objects: one generated loop per (object plan, row layout), as graphql-jit
generates JavaScript per query.

For `{ reference title completedAt mapCaptures {...} }` over job rows it compiles

    def build(rows):
        out = []
        append = out.append
        for r in rows:
            v0 = r[3]
            if v0 is None: refuse(0)
            elif v0.__class__ is not str: v0 = s0(v0)
            ...
            v2 = r[6]
            if v2 is not None: v2 = s2(v2)
            append({'reference': v0, 'title': v1, 'completedAt': v2, 'mapCaptures': None})
        return out

The nested connections and references are None here; the runner fills them in place, which
keeps each object's keys in the order graphql-core gives them. The values go through the very
functions graphql-core completes leaves with (scalars.py); a null in a non-null field, or a
value its scalar refuses, raises `Refused` and the operation runs on graphql-core instead.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from portal_graph.graphql.compiled.plan import Column, Constant, GlobalId, ObjectPlan
from portal_graph.graphql.compiled.scalars import Refused
from portal_graph.graphql.core.relay import to_global_id

Builder = Callable[[list[Any]], list[dict[str, Any]]]


def builder(plan: ObjectPlan, fields: tuple[str, ...]) -> Builder:
    """The plan's loop for rows whose columns are `fields` (made once per layout)."""
    made = plan.builders.get(fields)
    if made is None:
        made = plan.builders[fields] = _compile(plan, fields)
    return made


def _refuse(position: int) -> None:
    raise Refused(f"null or refused value at entry {position}")


def _compile(plan: ObjectPlan, fields: tuple[str, ...]) -> Builder:
    position = {name: i for i, name in enumerate(fields)}
    names: dict[str, Any] = {"refuse": _refuse}
    lines = ["def build(rows):", "    out = []", "    append = out.append",
             "    for r in rows:"]
    items = []
    for i, entry in enumerate(plan.entries):
        if isinstance(entry, Column):
            if entry.column not in position:
                raise Refused(f"no column {entry.column}")  # graphql-core runs it
            names[f"s{i}"] = entry.serialize
            v, coerce = f"v{i}", f"v{i} = s{i}(v{i})"
            lines.append(f"        {v} = r[{position[entry.column]}]")
            if entry.non_null:
                lines.append(f"        if {v} is None: refuse({i})")
                lines.append(f"        elif {v}.__class__ is not str: {coerce}" if entry.textual
                             else f"        else: {coerce}")
            else:
                lines.append(f"        if {v} is not None and {v}.__class__ is not str: {coerce}"
                             if entry.textual else f"        if {v} is not None: {coerce}")
            items.append(f"{entry.key!r}: {v}")
        elif isinstance(entry, Constant):
            items.append(f"{entry.key!r}: {entry.value!r}")
        elif isinstance(entry, GlobalId):
            names[f"g{i}"] = partial(to_global_id, entry.type_name)
            items.append(f"{entry.key!r}: g{i}(r[{position[entry.column]}])")
        else:  # a reference or a nested connection: filled in by the runner
            items.append(f"{entry.key!r}: None")
    lines.append("        append({" + ", ".join(items) + "})")
    lines.append("    return out")
    exec(compile("\n".join(lines), f"<plan {plan.type_name}>", "exec"), names)
    return names["build"]  # type: ignore[no-any-return]
