"""A field that fails must not break its request's transaction, nor the next request.

Found by fuzzing: an invalid cursor on one connection field made graphql-core cancel the
sibling fields (one of them mid-statement) while a DataLoader batch for another was still
running; the commit then met a busy connection (500), and that connection went back to the
pool broken, failing the next request too.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api
from tests.hardening.conftest import World

CREATE_WITH_A_BAD_CURSOR = """
mutation {
  createCustomer(input: {name: "Kept Ltd"}) {
    customer {
      id
      mapCaptures { totalCount nodes { geometry job { id status customer { createdAt } } } }
      assets(after: "not-a-cursor") { totalCount }
      pendingInvitations { emailStatus }
    }
  }
}"""
SIBLINGS_OF_A_BAD_CURSOR = """
{ jobs { totalCount edges { node { id customer { name } } } }
  mapCaptures { totalCount }
  customers(after: "not-a-cursor") { totalCount } }"""


@pytest.mark.parametrize("query", [CREATE_WITH_A_BAD_CURSOR, SIBLINGS_OF_A_BAD_CURSOR],
                         ids=["loader-batch-outlives-the-response", "sibling-cancelled-mid-sql"])
async def test_a_failing_field_leaves_the_connection_sound(
    api: Api, world: World, runtime: Any, query: str
) -> None:
    for _ in range(3):
        body = await api(query, token=world.admin_token)
        following = await api("{ me { email } }", token=world.admin_token)

        assert api.response is not None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
        assert following["data"]["me"] is not None
    assert runtime.engine.pool.checkedout() == 0


async def test_a_mutation_whose_payload_has_a_failing_field_still_commits(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    body = await api(CREATE_WITH_A_BAD_CURSOR, token=world.admin_token)

    assert body["data"]["createCustomer"]["customer"] is None  # the error nulls it ...
    async with engine.connect() as conn:  # ... but the customer was created, as answered
        assert await conn.scalar(text("SELECT count(*) FROM customers "
                                      "WHERE name = 'Kept Ltd'")) == 1
