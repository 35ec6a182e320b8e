"""Deny by default: a field nobody declared an audience for is a bug, found by walking the schema;
each audience's schema holds exactly the fields declared for it, as its introspection shows."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry

from portal_graph.graphql.core.audiences import STAFF, AudienceSchema, audience, field
from portal_graph.graphql.schema import full_schema
from portal_graph.scope import Audience
from tests.permissions.schema_shape import declared_audiences, expected_shape

INTROSPECTION = """{ __schema { types { name kind
  fields { name } inputFields { name } enumValues { name } } } }"""

# Who introspects as each audience (a member of the cast; None: no token).
INTROSPECTING = {Audience.ANONYMOUS: "anonymous", Audience.EXTERNAL: "external",
                 Audience.STAFF: "user", Audience.ADMIN: "admin"}


def undeclared(schema: Any = None) -> list[str]:
    return sorted(f"{type_name}.{field_name}"
                  for (type_name, field_name), audiences in declared_audiences(schema).items()
                  if audiences is None)


def test_every_field_of_every_reachable_type_declares_its_audiences():
    # Both views of the full schema agree on what is reachable: Strawberry's type map and the
    # GraphQL schema it built (the walk reads the latter and maps each field back).
    strawberry_types = set(full_schema().schema_converter.type_map)
    graphql_types = {name for name in full_schema()._schema.type_map
                     if not name.startswith("__")}
    assert strawberry_types <= graphql_types

    assert undeclared() == [], "fields without an audience (declare one with field(audiences=" \
                               "...) or @audience(...) on the type)"


# A toy schema with two forgotten declarations (at module level: Strawberry resolves the
# annotations there).
@audience(STAFF)
@strawberry.type
class Declared:
    name: str


@strawberry.type
class Forgotten:
    secret: str
    visible: str = field(audiences=STAFF)


@strawberry.type
class ToyQuery:
    declared: Declared = field(audiences=STAFF)
    forgotten: Forgotten = field(audiences=STAFF)
    also_forgotten: str


def test_the_walk_names_a_field_that_declares_no_audience():
    schema = AudienceSchema(query=ToyQuery, audience=None)

    assert undeclared(schema._schema) == ["Forgotten.secret", "ToyQuery.alsoForgotten"]


@pytest.mark.parametrize("audience", list(INTROSPECTING), ids=lambda a: a.value)
async def test_introspection_shows_each_audience_exactly_the_fields_declared_for_it(
        api, cast, audience):
    result = await api(INTROSPECTION, token=cast.tokens[INTROSPECTING[audience]])

    assert "errors" not in result, result
    shown = {}
    for type_ in result["data"]["__schema"]["types"]:
        if type_["name"].startswith("__") or type_["kind"] == "SCALAR":
            continue
        members = type_["fields"] or type_["inputFields"] or type_["enumValues"] or []
        shown[type_["name"]] = {m["name"] for m in members}
    expected = expected_shape(audience)
    assert sorted(shown) == sorted(expected), "types"
    assert {name: sorted(fields) for name, fields in shown.items()} == \
        {name: sorted(fields) for name, fields in expected.items()}
