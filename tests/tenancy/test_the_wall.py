"""Row-level security stands on its own: with the Scope filter of one repository function
deliberately removed, a request still gets only its own organization's rows.

Each case removes one filter (monkeypatched) and asks for another organization's data as an
admin of the first. Its control runs the same broken code with the table's policy switched
off and sees the other organization's row: the patch really leaks, and only the policy holds.
Run on each database setup (see conftest.py): the suite's owner role, the machine's superuser
(requests switch to the request role) and the embedded server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from portal_graph.customers import repository as customers_repo
from portal_graph.graphql.core import loaders
from portal_graph.graphql.core import pagination as graphql_pagination
from portal_graph.graphql.core.relay import to_global_id
from portal_graph.scoped_sql import shapes
from portal_graph.work import repository as work_repo
from tests.tenancy.conftest import Deployment, Organization

CUSTOMERS = "{ customers { nodes { name } } }"
JOBS = "{ jobs { nodes { reference } } }"
NODE = "query($id: ID!) { node(id: $id) { ... on Customer { name } } }"


def _customers_unscoped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(customers_repo, "listing",
                        lambda scope, search=None: select(customers_repo.customers))
    # The list's statements are kept once built (scoped_sql/shapes.py): start from none kept, so the
    # broken listing is the one built.
    monkeypatch.setattr(graphql_pagination, "_LISTINGS", shapes.Shapes())


def _jobs_unscoped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(work_repo, "job_listing", lambda scope, **kw: select(work_repo.jobs))


def _node_loader_unscoped(monkeypatch: pytest.MonkeyPatch) -> None:
    async def by_ids_only(session: Any, scope: Any, table: Any, ids: Any) -> dict[Any, Any]:
        rows = await session.execute(select(table).where(table.c.id.in_(list(ids))))
        return {row.id: row for row in rows.all()}

    monkeypatch.setattr(loaders, "visible_by_ids", by_ids_only)


Ask = Callable[[Deployment, Organization, Organization], Awaitable[set[str]]]


async def _names(deployment: Deployment, asking: Organization, _: Organization) -> set[str]:
    result = await deployment.api(CUSTOMERS, token=asking.admin_token)
    return {node["name"] for node in result["data"]["customers"]["nodes"]}


async def _references(deployment: Deployment, asking: Organization, _: Organization) -> set[str]:
    result = await deployment.api(JOBS, token=asking.admin_token)
    return {node["reference"] for node in result["data"]["jobs"]["nodes"]}


async def _node(deployment: Deployment, asking: Organization, other: Organization) -> set[str]:
    result = await deployment.api(NODE, {"id": to_global_id("Customer", other.customer_id)},
                                  token=asking.admin_token)
    node = result["data"]["node"]
    return {node["name"]} if node else set()


@dataclass(frozen=True)
class Case:
    remove_filter: Callable[[pytest.MonkeyPatch], None]
    table: str
    ask: Ask
    own: Callable[[Organization], set[str]]  # what the asking admin may see
    other: Callable[[Organization], set[str]]  # the other organization's row


CASES = {
    "customers list": Case(_customers_unscoped, "customers", _names,
                           lambda o: {o.customer_name}, lambda o: {o.customer_name}),
    "jobs list": Case(_jobs_unscoped, "jobs", _references,
                      lambda o: {o.job_reference}, lambda o: {o.job_reference}),
    "node(id:) loader": Case(_node_loader_unscoped, "customers", _node,
                             lambda o: set(), lambda o: {o.customer_name}),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_without_its_scope_filter_a_repository_still_reads_only_its_organization(
        deployment: Deployment, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    mine, theirs = await deployment.organization("Mine"), await deployment.organization("Theirs")
    case.remove_filter(monkeypatch)

    seen = await case.ask(deployment, mine, theirs)

    assert seen == case.own(mine)
    assert not seen & case.other(theirs)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_control_the_same_broken_repository_leaks_once_the_policy_is_off(
        deployment: Deployment, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    mine, theirs = await deployment.organization("Mine"), await deployment.organization("Theirs")
    case.remove_filter(monkeypatch)

    async with deployment.without_policy(case.table):
        seen = await case.ask(deployment, mine, theirs)

    assert case.other(theirs) <= seen
