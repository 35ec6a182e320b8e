"""Random query documents over an audience's schema, for the equivalence property.

A document is drawn from the schema itself: root fields with arguments taken from the world
(ids of every type, unknown and garbage ids, cursors, statuses, search strings), then per
object type a random part of its fields (leaves, `__typename`, connections with `edges`,
`nodes`, `pageInfo`, `totalCount`, references), with aliases, inline fragments, named
fragments and `@include`/`@skip` (literal or through variables), down to a depth (levels of
objects) of COMPILED_DEPTH. Fields whose required arguments it cannot fill are left out. A
document holds at most MAX_FIELDS fields: past that, an object asks only `__typename`, so a
deep document stays narrow (six fields a level, five levels deep, would otherwise be
thousands of fields and minutes of drawing).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_leaf_type,
)
from hypothesis import strategies as st


@dataclass
class Values:
    """What arguments may be: drawn from the world."""

    ids: list[str]
    cursors: list[str]
    by_type: dict[str, list[str]] = field(default_factory=dict)  # global ids per type name
    searches: list[str] = field(default_factory=lambda: ["", "C", "works", "zoë", "%_"])


MAX_FIELDS = 40


@dataclass
class Drawn:
    text: str = ""
    fields: int = 0  # drawn so far
    fragments: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    declarations: list[str] = field(default_factory=list)
    counter: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    def variable(self, type_name: str, value: Any) -> str:
        name = f"v{next(self.counter)}"
        self.declarations.append(f"${name}: {type_name}")
        self.variables[name] = value
        return f"${name}"

    def document(self) -> str:
        head = f"query Q({', '.join(self.declarations)})" if self.declarations else "query Q"
        return "\n".join([f"{head} {{ {self.text} }}", *self.fragments])


class Documents:
    def __init__(self, schema: GraphQLSchema, values: Values, depth: int) -> None:
        self.schema = schema
        self.values = values
        self.depth = depth
        self.field_type = ""  # the named type of the field whose arguments are drawn

    def strategy(self) -> st.SearchStrategy[Drawn]:
        return st.composite(self._draw)()

    def _draw(self, draw: st.DrawFn) -> Drawn:
        drawn = Drawn()
        query = self.schema.query_type
        assert query is not None
        roots = [name for name, f in query.fields.items()
                 if name in ("node", "customer", "job", "customers", "jobs", "mapCaptures",
                             "__typename")
                 or (draw(st.integers(0, 9)) == 0 and self._fillable(f))]
        chosen = draw(st.lists(st.sampled_from(roots), min_size=1, max_size=3)) if roots else []
        parts = [self._field(draw, drawn, query, name, 1) for name in chosen]
        drawn.text = " ".join(p for p in parts if p) or "__typename"
        return drawn

    def _fillable(self, definition: Any) -> bool:
        return all(not isinstance(arg.type, GraphQLNonNull) or name == "id"
                   for name, arg in definition.args.items())

    def _field(self, draw: st.DrawFn, drawn: Drawn, parent: Any, name: str,
               depth: int) -> str:
        definition = parent.fields[name]
        if not self._fillable(definition):
            return ""
        self.field_type = get_named_type(definition.type).name
        drawn.fields += 1
        alias = f"a{next(drawn.counter)}: " if draw(st.integers(0, 4)) == 0 else ""
        args = self._arguments(draw, drawn, definition)
        directive = self._directive(draw, drawn)
        named = get_named_type(definition.type)
        head = f"{alias}{name}{args}{directive}"
        if is_leaf_type(named):
            return head
        if depth >= self.depth or drawn.fields >= MAX_FIELDS:
            return f"{head} {{ __typename }}"
        return f"{head} {{ {self._selection(draw, drawn, named, depth + 1)} }}"

    def _selection(self, draw: st.DrawFn, drawn: Drawn, type_: Any, depth: int) -> str:
        if isinstance(type_, GraphQLInterfaceType):
            own = [self._field(draw, drawn, type_, n, depth)
                   for n in draw(st.lists(st.sampled_from(sorted(type_.fields)), max_size=2))]
            possible = sorted(t.name for t in self.schema.get_possible_types(type_))
            for type_name in draw(st.lists(st.sampled_from(possible), max_size=3, unique=True)):
                own.append(f"... on {type_name} {{ "
                           f"{self._selection(draw, drawn, self.schema.type_map[type_name], depth)}"
                           " }")
            return " ".join(p for p in own if p) or "__typename"
        assert isinstance(type_, GraphQLObjectType)
        names = sorted(type_.fields)
        picked = draw(st.lists(st.sampled_from([*names, "__typename"]), min_size=1,
                               max_size=min(6, len(names) + 1)))
        parts = [("__typename" if n == "__typename" else self._field(draw, drawn, type_, n, depth))
                 for n in picked]
        parts = [p for p in parts if p] or ["__typename"]
        how = draw(st.integers(0, 5))
        if how == 0:  # an inline fragment on the type (or without a condition)
            condition = draw(st.sampled_from([f" on {type_.name}", ""]))
            return f"... {condition} {{ {' '.join(parts)} }}".replace("...  ", "... ")
        if how == 1:  # a named fragment
            name = f"F{next(drawn.counter)}"
            drawn.fragments.append(f"fragment {name} on {type_.name} {{ {' '.join(parts)} }}")
            return f"...{name}"
        return " ".join(parts)

    def _directive(self, draw: st.DrawFn, drawn: Drawn) -> str:
        kind = draw(st.integers(0, 7))
        if kind == 0:
            return f" @include(if: {draw(st.sampled_from(['true', 'false']))})"
        if kind == 1:
            value = draw(st.booleans())
            return f" @skip(if: {drawn.variable('Boolean!', value)})"
        return ""

    def _arguments(self, draw: st.DrawFn, drawn: Drawn, definition: Any) -> str:
        parts = []
        for name, arg in definition.args.items():
            required = isinstance(arg.type, GraphQLNonNull)
            if not required and draw(st.integers(0, 2)) == 0:
                continue
            value = self._value(draw, name, get_named_type(arg.type), arg.type)
            if value is None:
                if required:
                    return ""
                continue
            literal, type_name, raw = value
            if draw(st.booleans()):
                parts.append(f"{name}: {drawn.variable(type_name, raw)}")
            else:
                parts.append(f"{name}: {literal}")
        return f"({', '.join(parts)})" if parts else ""

    def _value(self, draw: st.DrawFn, name: str, named: Any,
               declared: Any) -> tuple[str, str, Any] | None:
        type_name = str(declared)
        if name == "first":
            n = draw(st.sampled_from([0, 1, 2, 3, 5, 100, 101, -1]))
            return str(n), type_name, n
        if name == "after":
            cursor = draw(st.sampled_from([*self.values.cursors, "garbage"]))
            return _string(cursor), type_name, cursor
        if name in ("id", "customerId"):
            # Mostly an id of the type the field reads (a job's for `job(id:)`), else any.
            wanted = self.values.by_type.get(self.field_type if name == "id" else "Customer")
            id_ = draw(st.sampled_from(wanted if wanted and draw(st.integers(0, 3))
                                       else self.values.ids))
            return _string(id_), type_name, id_
        if name == "search":
            text = draw(st.sampled_from(self.values.searches))
            return _string(text), type_name, text
        if isinstance(named, GraphQLEnumType):
            value = draw(st.sampled_from(sorted(named.values)))
            return value, type_name, value
        if isinstance(declared, GraphQLList):
            return None
        return None


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
