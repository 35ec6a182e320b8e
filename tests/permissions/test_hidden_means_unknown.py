"""For anonymous callers and external users a hidden name is an unknown name: the error for a
field or type their schema lacks is byte for byte the error for a name that exists nowhere
(message, code, no suggestion; only the position and the name itself differ). Staff are told
instead that an administrator's field exists and is not theirs (FORBIDDEN).

Every hidden field and type is compared, through the endpoint's own preparation, in a
fragment (which needs no path to the type); a few are also compared over HTTP.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from graphql import GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema

from portal_graph.graphql.execution import Executor, format_error
from portal_graph.graphql.limits import QueryLimits
from portal_graph.graphql.schema import audience_schema, full_schema
from portal_graph.scope import Audience

OUTSIDERS = (Audience.ANONYMOUS, Audience.EXTERNAL)


def _fields(schema: GraphQLSchema) -> dict[str, set[str]]:
    return {name: set(type_.fields) for name, type_ in schema.type_map.items()
            if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType)
            and not name.startswith("__")}


def hidden_names(audience: Audience) -> tuple[list[tuple[str, str]], list[str]]:
    """(hidden fields of types the audience sees, as (type, field); hidden types)."""
    full, own = _fields(full_schema()._schema), _fields(audience_schema(audience)._schema)
    fields = sorted((type_name, field) for type_name, names in own.items()
                    for field in full[type_name] - names)
    types = sorted(set(full_schema()._schema.type_map) - set(audience_schema(audience)._schema
                                                             .type_map))
    return fields, types


def unknown_like(name: str, schema: GraphQLSchema) -> str:
    """A name of the same length that no schema has."""
    made_up = name[0] + "q" * (len(name) - 1)
    assert made_up not in schema.type_map and all(
        made_up not in names for names in _fields(schema).values())
    return made_up


def answer(executor: Executor, audience: Audience, document: str) -> bytes:
    prepared = executor.prepare(audience, document, {})
    assert prepared.document is None, document
    errors = [format_error(error, "request-id") for error in prepared.errors]
    for error in errors:
        error.pop("locations", None)
    return orjson.dumps(errors, option=orjson.OPT_SORT_KEYS)


@pytest.fixture(scope="module")
def executor() -> Executor:
    return Executor(QueryLimits())


def field_document(type_name: str, field: str) -> str:
    root = "query" if type_name != "Mutation" else "mutation"
    return f"{root} {{ __typename }} fragment F on {type_name} {{ {field} }}"


@pytest.mark.parametrize("audience", OUTSIDERS, ids=lambda a: a.value.lower())
def test_every_hidden_field_gets_the_error_of_a_field_that_does_not_exist(executor, audience):
    fields, _ = hidden_names(audience)
    full = full_schema()._schema
    assert len(fields) >= 10  # the comparison has something to compare

    for type_name, field in fields:
        made_up = unknown_like(field, full)
        hidden = answer(executor, audience, field_document(type_name, field))
        unknown = answer(executor, audience, field_document(type_name, made_up))

        assert hidden.replace(f"'{field}'".encode(), b"'NAME'") \
            == unknown.replace(f"'{made_up}'".encode(), b"'NAME'"), (type_name, field)
        assert b"Did you mean" not in hidden and b"FORBIDDEN" not in hidden


@pytest.mark.parametrize("audience", OUTSIDERS, ids=lambda a: a.value.lower())
def test_every_hidden_type_gets_the_error_of_a_type_that_does_not_exist(executor, audience):
    _, types = hidden_names(audience)
    full = full_schema()._schema
    assert "StaffMember" in types and "CreateStaffMemberInput" in types

    for type_name in types:
        made_up = unknown_like(type_name, full)
        documents = [f"query {{ __typename }} fragment F on {name} {{ __typename }}"
                     for name in (type_name, made_up)]
        if type_name.endswith("Input"):  # input types are named in variables
            documents = [f"query($v: {name}) {{ __typename }}" for name in (type_name, made_up)]
        hidden, unknown = (answer(executor, audience, d) for d in documents)

        assert hidden.replace(f"'{type_name}'".encode(), b"'NAME'") \
            == unknown.replace(f"'{made_up}'".encode(), b"'NAME'"), type_name
        assert b"Did you mean" not in hidden and b"FORBIDDEN" not in hidden


OVER_HTTP = [
    ("anonymous", "{ customers { totalCount } }", "customers", "cqqqqqqqq"),
    ("anonymous", "mutation { createCustomer(input: {name: \"x\"}) { customer { id } } }",
     "createCustomer", "cqqqqqqqqqqqqq"),
    ("external", "{ jobs { nodes { price } } }", "price", "pqqqq"),
    ("external", "{ externalUsers { totalCount } }", "externalUsers", "eqqqqqqqqqqqq"),
    ("external", '{ node(id: "x") { ... on StaffMember { email } } }', "StaffMember",
     "Sqqqqqqqqqq"),
]


@pytest.mark.parametrize(("who", "document", "hidden", "made_up"), OVER_HTTP,
                         ids=[f"{w}:{h}" for w, _, h, _ in OVER_HTTP])
async def test_over_http_the_two_answers_are_the_same_bytes(api, cast, who, document, hidden,
                                                           made_up):
    async def body(query: str) -> tuple[int, Any]:
        result = await api(query, token=cast.tokens[who])
        assert api.response is not None
        for error in result["errors"]:
            error.pop("locations", None)
        return api.response.status_code, result

    as_hidden = await body(document)
    as_unknown = await body(document.replace(hidden, made_up))

    assert orjson.dumps(as_hidden).replace(hidden.encode(), b"NAME") \
        == orjson.dumps(as_unknown).replace(made_up.encode(), b"NAME")
    assert as_hidden[1]["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


@pytest.mark.parametrize(("who", "document", "message"), [
    ("user", "{ externalUsers { totalCount } }",
     "Field 'externalUsers' on type 'Query' is for administrators only."),
    ("manager", "mutation($i: UpdateOrganizationSettingsInput!) { "
                "updateOrganizationSettings(input: $i) { organization { name } } }",
     "Type 'UpdateOrganizationSettingsInput' is for administrators only."),
])
async def test_staff_are_told_an_administrators_field_exists(api, cast, who, document, message):
    result = await api(document, token=cast.tokens[who])

    first = result["errors"][0]
    assert (first["message"], first["extensions"]["code"]) == (message, "FORBIDDEN")
