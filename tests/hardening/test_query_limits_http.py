"""Query limits through the real endpoint: each refused with its code; hostile documents cheaply.

The numbers come from the settings (config.py defaults: depth 15, 30 aliases, 1,000 tokens,
cost weighted by `first`, `first` at most 100, 50 directives, 10 operations per batch), so
these tests follow a retuned default.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from graphql import get_introspection_query

from portal_graph.config import Settings
from tests.conftest import Api, without_cost
from tests.factories import Factory
from tests.hardening.conftest import AppFactory, World, api_for


def nested_of_type(levels: int) -> str:
    """`{ __type(name: "Job") { ofType { ... { name } } } }`: valid, `levels` fields deep."""
    middle = levels - 2
    return '{ __type(name: "Job") ' + "{ ofType " * middle + "{ name }" + " }" * middle + " }"


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


# --- each limit, with its code -------------------------------------------------------------


async def test_a_query_deeper_than_the_limit_is_refused(api: Api, settings: Settings) -> None:
    assert codes(await api(nested_of_type(settings.query_max_depth))) == []

    body = await api(nested_of_type(settings.query_max_depth + 1))

    assert codes(body) == ["QUERY_TOO_DEEP"]
    assert "data" not in body


async def test_aliases_past_the_limit_are_refused(api: Api, settings: Settings) -> None:
    assert codes(await api(aliases(settings.query_max_aliases))) == []

    assert codes(await api(aliases(settings.query_max_aliases + 1))) == ["TOO_MANY_ALIASES"]


async def test_aliases_spread_through_a_fragment_count_each_time(api: Api, world: World,
                                                                 settings: Settings) -> None:
    per_fragment = settings.query_max_aliases // 4 + 1
    fragment = ("fragment F on Query { "
                + " ".join(f"f{i}: __typename" for i in range(per_fragment)) + " }")
    query = "{ ...F ...F ...F ...F }" + fragment  # past the limit only once spread

    # (staff's limits: anonymous callers' would refuse the fourth repeat of f0 first)
    assert codes(await api(query, token=world.admin_token)) == ["TOO_MANY_ALIASES"]


async def test_a_document_past_the_token_cap_is_refused(api: Api, settings: Settings) -> None:
    query = "{ " + "__typename " * settings.query_max_tokens + "}"

    assert codes(await api(query)) == ["QUERY_TOO_LARGE"]


async def test_comments_count_as_tokens(api: Api, settings: Settings) -> None:
    query = "{ __typename " + "#\n" * settings.query_max_tokens + "}"

    assert codes(await api(query)) == ["QUERY_TOO_LARGE"]


def three_levels(customers: str, jobs: str, captures: str) -> str:
    return (f"{{ customers(first: {customers}) {{ edges {{ node {{ "
            f"jobs(first: {jobs}) {{ edges {{ node {{ "
            f"mapCaptures(first: {captures}) {{ edges {{ node {{ id }} }} }} }} }} }} }} }} }} }}")


async def test_cost_is_weighted_by_first(api: Api, world: World) -> None:
    cheap = await api(three_levels("5", "10", "10"), token=world.admin_token)
    costly = await api(three_levels("100", "100", "100"), token=world.admin_token)

    assert codes(cheap) == []
    assert codes(costly) == ["QUERY_TOO_COSTLY"]


async def test_the_cost_of_a_variable_first_is_taken_from_the_variables(api: Api,
                                                                        world: World) -> None:
    query = "query($n: Int) " + three_levels("$n", "$n", "$n")

    assert codes(await api(query, {"n": 3}, token=world.admin_token)) == []
    assert codes(await api(query, {"n": 100}, token=world.admin_token)) == ["QUERY_TOO_COSTLY"]


async def test_first_outside_its_range_is_refused(api: Api, world: World,
                                                  settings: Settings) -> None:
    for first in (settings.query_max_first + 1, -1, 1_000_000):
        literal = await api(f"{{ jobs(first: {first}) {{ totalCount }} }}",
                            token=world.admin_token)
        variable = await api("query($n: Int) { jobs(first: $n) { totalCount } }", {"n": first},
                             token=world.admin_token)

        assert codes(literal) == codes(variable) == ["FIRST_OUT_OF_RANGE"], first


async def test_a_raised_max_first_is_honoured_by_the_resolvers_too(
        app_with: AppFactory, client_for: Callable[..., httpx.AsyncClient], make: Factory,
        world: World) -> None:
    # given QUERY_MAX_FIRST=150, and 151 jobs: 150 of customer A, 1 of customer B
    api = api_for(client_for(app_with(query_max_first=150)))
    for number in range(148):
        await make.job(world.organization_id, world.customer_a, reference=f"MANY-{number:03}")
    page = "(first: 150) { edges { node { id } } }"

    # when a top-level connection and a nested one each ask for 150
    top = await api(f"{{ jobs{page} }}", token=world.admin_token)
    nested = await api(f"{{ customers(first: 2) {{ edges {{ node {{ jobs{page} }} }} }} }}",
                       token=world.admin_token)

    # then validation and the resolvers both let them through
    assert "errors" not in top and "errors" not in nested, (top, nested)
    assert len(top["data"]["jobs"]["edges"]) == 150
    customers = nested["data"]["customers"]["edges"]
    assert sorted(len(c["node"]["jobs"]["edges"]) for c in customers) == [1, 150]
    assert codes(await api("{ jobs(first: 151) { totalCount } }",
                           token=world.admin_token)) == ["FIRST_OUT_OF_RANGE"]


async def test_directives_past_the_limit_are_refused(api: Api, world: World,
                                                    settings: Settings) -> None:
    def directives(count: int) -> str:
        # As many plain fields as may repeat, the rest aliased: only directives are many.
        plain = min(count, settings.query_max_repeated_fields)
        fields = ["__typename"] * plain + [f"a{i}: __typename" for i in range(count - plain)]
        return "{ " + " ".join(f"{field} @include(if: true)" for field in fields) + " }"

    token = world.admin_token  # staff's limits on repeats; the directive limit is everyone's
    assert settings.query_max_directives - settings.query_max_repeated_fields \
        <= settings.query_max_aliases  # the allowed document breaks no other limit
    assert codes(await api(directives(settings.query_max_directives), token=token)) == []
    assert codes(await api(directives(settings.query_max_directives + 1), token=token)) \
        == ["TOO_MANY_DIRECTIVES"]


async def test_a_batch_past_the_cap_is_refused(client: httpx.AsyncClient,
                                               settings: Settings) -> None:
    allowed = await client.post("/graphql", json=[{"query": "{ __typename }"}] * settings.max_batch)
    refused = await client.post("/graphql",
                                json=[{"query": "{ __typename }"}] * (settings.max_batch + 1))

    assert allowed.status_code == 200
    assert [item["data"] for item in allowed.json()] \
        == [{"__typename": "Query"}] * settings.max_batch
    assert refused.status_code == 400
    assert codes(refused.json()) == ["BATCH_TOO_LARGE"]


# --- hostile documents are refused cheaply ---------------------------------------------------


async def test_a_ten_thousand_alias_query_is_refused_cheaply(api: Api) -> None:
    query = aliases(10_000)

    started = time.perf_counter()
    body = await api(query)
    elapsed = time.perf_counter() - started

    print(f"\n10,000 aliases ({len(query):,} bytes) refused in {elapsed * 1000:.1f} ms")
    assert codes(body) == ["QUERY_TOO_LARGE"]  # the token cap stops it before any AST exists


async def test_a_fifty_deep_query_is_refused_cheaply(api: Api) -> None:
    query = nested_of_type(50)

    started = time.perf_counter()
    body = await api(query)
    elapsed = time.perf_counter() - started

    print(f"\n50-deep query refused in {elapsed * 1000:.1f} ms")
    assert codes(body) == ["QUERY_TOO_DEEP"]


async def test_every_alias_of_a_paged_field_pays_for_its_page(api: Api, world: World) -> None:
    page = "jobs(first: 100) { edges { node { mapCaptures(first: 100) { totalCount } } } }"
    query = "{ " + " ".join(f"j{i}: {page}" for i in range(10)) + " }"

    body = await api(query, token=world.admin_token)

    assert codes(body) == ["QUERY_TOO_COSTLY"]


# --- suggestions and introspection -----------------------------------------------------------

TYPO = "{ jobz { totalCount } }"


@pytest.mark.parametrize("who", ["anonymous", "external"])
async def test_outsiders_get_no_field_suggestions(api: Api, world: World, who: str) -> None:
    token = world.external_token if who == "external" else None

    body = await api(TYPO, token=token)

    message = body["errors"][0]["message"]
    assert "jobz" in message
    assert "Did you mean" not in message


@pytest.mark.parametrize("who", ["staff", "admin"])
async def test_staff_get_field_suggestions(api: Api, world: World, who: str) -> None:
    token = world.staff_token if who == "staff" else world.admin_token

    body = await api(TYPO, token=token)

    assert "Did you mean 'job' or 'jobs'?" in body["errors"][0]["message"]


JOB_FIELDS = '{ __type(name: "Job") { fields { name } } }'
QUERY_FIELDS = "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }"


async def test_staff_can_run_the_full_introspection_query(api: Api, world: World) -> None:
    body = await api(get_introspection_query(descriptions=True), token=world.staff_token)

    assert "errors" not in body
    types = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"Job", "Customer", "MapCapture", "Asset", "StaffMember"} <= types


async def test_introspection_shows_each_audience_only_its_own_fields(api: Api,
                                                                    world: World) -> None:
    staff = await api(JOB_FIELDS, token=world.staff_token)
    external = await api(JOB_FIELDS, token=world.external_token)
    anonymous = await api(QUERY_FIELDS)

    staff_fields = {f["name"] for f in staff["data"]["__type"]["fields"]}
    external_fields = {f["name"] for f in external["data"]["__type"]["fields"]}
    assert {"internalNotes", "price", "assignedStaff"} <= staff_fields
    assert not {"internalNotes", "price", "assignedStaff"} & external_fields
    assert {"id", "title", "status", "completedAt"} <= external_fields
    anonymous_queries = {f["name"] for f in anonymous["data"]["__schema"]["queryType"]["fields"]}
    assert "me" in anonymous_queries
    assert not {"jobs", "customers", "node", "apiTokens"} & anonymous_queries
    anonymous_mutations = {
        f["name"] for f in anonymous["data"]["__schema"]["mutationType"]["fields"]}
    assert "login" in anonymous_mutations
    assert not {"createCustomer", "createJob", "createStaffMember"} & anonymous_mutations


async def test_an_outsider_cannot_discover_a_hidden_type_by_name(api: Api, world: World) -> None:
    body = await api('{ __type(name: "StaffMember") { name } }', token=world.external_token)

    assert without_cost(body) == {"data": {"__type": None}}
