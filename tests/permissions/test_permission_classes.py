"""The second layer: permission classes hold even if a request reached a schema not its own.

The audience schemas refuse hidden fields at validation (the first layer). This drives an
external viewer straight into the admin schema, as a routing bug would, and checks that
every narrowed field still refuses it.
"""

from __future__ import annotations

import pytest
from graphql import execute, parse

from portal_graph.config import Settings
from portal_graph.graphql.budgets import audience_limits
from portal_graph.graphql.core.context import Context
from portal_graph.graphql.execution import Executor
from portal_graph.scope import Audience, Viewer

NARROWED = [
    ("{ job(id: $id) { price } }", "job"),
    ("{ job(id: $id) { internalNotes } }", "job"),
    ("{ customer(id: $cid) { createdAt } }", "customer"),
]


@pytest.fixture(scope="module")
def executor() -> Executor:
    """The app's executor (the audience schemas as served, plain fields installed)."""
    return Executor(audience_limits(Settings(_env_file=None)))


@pytest.mark.parametrize(("document", "root"), NARROWED)
async def test_staff_only_fields_refuse_an_external_viewer_in_the_admin_schema(
        runtime, executor, settings, sessionmaker, make, document, root):
    from portal_graph.graphql.core.relay import to_global_id

    org = await make.organization()
    customer = await make.customer(org)
    job = await make.job(org, customer)
    external = await make.external(org, [customer])
    viewer = Viewer(audience=Audience.EXTERNAL, person_id=external["person"]["id"],
                    organization_id=org, external_user_id=external["id"],
                    granted_customer_ids=frozenset({customer}))
    query = document.replace("$id", f'"{to_global_id("Job", job)}"') \
        .replace("$cid", f'"{to_global_id("Customer", customer)}"')

    async with sessionmaker() as session, session.begin():
        context = Context(session=session, viewer=viewer, settings=settings, runtime=runtime)
        result = await execute(executor.schemas[Audience.ADMIN], parse(query),
                               context_value=context)

    assert [e.extensions["code"] for e in result.errors or []] == ["FORBIDDEN"]
    # Nothing of the field came back: a nullable one is null, a non-null one nulls its parent.
    found = (result.data or {}).get(root)
    assert found is None or set(found.values()) == {None}
