"""Relay's contract: every object that implements Node can be fetched again with node(id:)."""

from __future__ import annotations

import pytest
from graphql import GraphQLObjectType

from portal_graph.graphql.core.relay import from_global_id, to_global_id
from portal_graph.graphql.schema import NODE_KINDS, full_schema

pytestmark = pytest.mark.pooled  # also run through PgBouncer (scripts/test)


def test_every_node_type_can_be_fetched_with_node():
    schema = full_schema()._schema
    implementing = {name for name, type_ in schema.type_map.items()
                    if isinstance(type_, GraphQLObjectType)
                    and any(i.name == "Node" for i in type_.interfaces)}
    assert implementing == set(NODE_KINDS)


def test_global_ids_round_trip_and_garbage_is_no_id():
    from portal_graph.db.models import new_id

    id_ = new_id()
    assert from_global_id(to_global_id("Job", id_)) == ("Job", id_)
    for garbage in ("", "x", "Sm9iOm5vdC1hLXV1aWQ", "!!!", "A" * 500):
        assert from_global_id(garbage) is None
