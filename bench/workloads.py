"""The benchmark's workloads, each as one iteration against the GraphQL server and against the
floor (bench/floor.py: the same SQL with raw asyncpg and orjson, no GraphQL).

An iteration is one or more HTTP calls through a `send(path, body, headers)` function, so the
load generator (aiohttp) and the in-process statement counter (httpx over ASGI) drive the
very same code.
"""

from __future__ import annotations

import itertools
import secrets
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

# The external portal: granted customers -> their completed jobs -> captures and assets.
# `customers(first: 50)` as the portal sends it; the client has 5 customers, so $jobs = 10
# gives 50 jobs and $jobs = 100 gives 500.
PORTAL = """query Portal($jobs: Int!) { customers(first: 50) { edges { node { name
  jobs(first: $jobs, status: COMPLETED) { edges { node { reference title completedAt
    mapCaptures(first: 10) { edges { node { latitude longitude note } } }
    assets(first: 10) { edges { node { name kind } } } } } } } } } }"""

NODE = """query Node($id: ID!) { node(id: $id) { id ... on Job { reference title status
  completedAt customer { name } } } }"""

SEARCH = """query Search($search: String!) { externalUsers(first: 20, search: $search) {
  edges { node { id email name lastSeenAt customers { name } } } } }"""

# The external portal's map: the captures in the visible area (1 degree square, moving over the
# scale data's 50-55 N, 5 W-1 E), a page of 100 as a GeoJSON FeatureCollection.
MAP = """query Map($within: BoundingBox!) { mapCaptures(first: 100, within: $within) {
  geoJson } }"""

INVITE = """mutation Invite($input: InviteExternalUserInput!) { inviteExternalUser(input: $input)
  { inviteUrl userErrors { code field message } } }"""
ACCEPT = """mutation Accept($input: AcceptInvitationInput!) { acceptInvitation(input: $input)
  { token userErrors { code field message } } }"""
INVITEE_PASSWORD = "bench invitee password 1"

# A partner syncing through the feed, pages of 100; each client walks its feed to the end,
# then starts again (its cursor kept between iterations, as a partner stores it).
FEED = """query Feed($after: String) { changes(after: $after, first: 100) {
  edges { cursor node { nodeId removed node { id ... on Job { reference title status
    completedAt } } } } pageInfo { hasNextPage endCursor } } }"""

# The portal document's static cost bound (customers x jobs x captures) is far above the
# default QUERY_MAX_COST of 5000, which refuses it: the bench raises the limit, and says so.
BENCH_MAX_COST = 10_000_000
# Invites and accepts are rate limited per organization and address; the bench is one address.
GENEROUS = "1000000/60"
ROOMY_BUCKET = "1000000000/100000000"

Send = Callable[[str, bytes, dict[str, str]], Awaitable[tuple[int, bytes]]]


class BenchFailure(Exception):
    pass


@dataclass
class BenchData:
    database_url: str
    organization_id: str
    client_tokens: list[str]
    admin_tokens: list[str]
    node_ids: list[str]  # global ids of jobs
    customer_ids: list[str]  # global ids, to invite to
    search: str
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    invitees: Iterator[int] = field(default_factory=itertools.count)
    graphql_fields: frozenset[str] = frozenset()  # root fields of the admin/anonymous schemas

    def token(self, tokens: list[str], client: int) -> dict[str, str]:
        return {"authorization": f"Bearer {tokens[client % len(tokens)]}",
                "content-type": "application/json"}


def _json(status: int, body: bytes, what: str) -> Any:
    if status != 200:
        raise BenchFailure(f"{what}: HTTP {status}: {body[:300]!r}")
    decoded = orjson.loads(body)
    if isinstance(decoded, dict) and decoded.get("errors"):
        raise BenchFailure(f"{what}: {decoded['errors'][:2]}")
    return decoded


def _cheap_check(status: int, body: bytes, what: str) -> None:
    """Status and no top-level errors, without decoding a 200 KB body on the client's CPU."""
    if status != 200 or b'"errors":' in body:
        _json(status, body, what)


async def _graphql(send: Send, query: str, variables: dict[str, Any],
                   headers: dict[str, str], what: str, *, decode: bool = False) -> Any:
    status, body = await send("/graphql", orjson.dumps({"query": query,
                                                        "variables": variables}), headers)
    if decode:
        return _json(status, body, what)
    _cheap_check(status, body, what)
    return None


async def _floor(send: Send, path: str, payload: dict[str, Any], headers: dict[str, str],
                 *, decode: bool = False) -> Any:
    status, body = await send(path, orjson.dumps(payload), headers)
    if decode:
        return _json(status, body, f"floor {path}")
    _cheap_check(status, body, f"floor {path}")
    return None


# --- iterations ------------------------------------------------------------------------------

Iteration = Callable[[Send, BenchData, int, int], Awaitable[None]]


def portal(jobs_per_customer: int) -> tuple[Iteration, Iteration]:
    async def graphql(send: Send, data: BenchData, client: int, i: int) -> None:
        await _graphql(send, PORTAL, {"jobs": jobs_per_customer},
                       data.token(data.client_tokens, client), "portal")

    async def floor(send: Send, data: BenchData, client: int, i: int) -> None:
        await _floor(send, "/portal", {"jobs": jobs_per_customer},
                     data.token(data.client_tokens, client))

    return graphql, floor


def _node_id(data: BenchData, client: int, i: int) -> str:
    return data.node_ids[(client * 7919 + i) % len(data.node_ids)]


async def node_graphql(send: Send, data: BenchData, client: int, i: int) -> None:
    await _graphql(send, NODE, {"id": _node_id(data, client, i)},
                   data.token(data.admin_tokens, client), "node")


async def node_floor(send: Send, data: BenchData, client: int, i: int) -> None:
    await _floor(send, "/node", {"id": _node_id(data, client, i)},
                 data.token(data.admin_tokens, client))


async def search_graphql(send: Send, data: BenchData, client: int, i: int) -> None:
    await _graphql(send, SEARCH, {"search": data.search},
                   data.token(data.admin_tokens, client), "search")


async def search_floor(send: Send, data: BenchData, client: int, i: int) -> None:
    await _floor(send, "/search", {"search": data.search}, data.token(data.admin_tokens, client))


def map_box(client: int, i: int) -> dict[str, float]:
    south, west = 50 + (client + i) % 4, -5 + (client * 3 + i) % 5
    return {"south": south, "west": west, "north": south + 1, "east": west + 1}


async def map_graphql(send: Send, data: BenchData, client: int, i: int) -> None:
    await _graphql(send, MAP, {"within": map_box(client, i)},
                   data.token(data.client_tokens, client), "map")


async def map_floor(send: Send, data: BenchData, client: int, i: int) -> None:
    await _floor(send, "/map", {"within": map_box(client, i)},
                 data.token(data.client_tokens, client))


def _invitee(data: BenchData, client: int, i: int, side: str) -> dict[str, Any]:
    number = next(data.invitees)
    return {"email": f"invitee-{data.run_id}-{side}-{number}@bench-invitee.example",
            "name": "Bench Invitee",
            "customerIds": [data.customer_ids[(client + i) % len(data.customer_ids)]]}


async def invite_accept_graphql(send: Send, data: BenchData, client: int, i: int) -> None:
    invited = await _graphql(send, INVITE, {"input": _invitee(data, client, i, "g")},
                             data.token(data.admin_tokens, client), "invite", decode=True)
    payload = invited["data"]["inviteExternalUser"]
    if payload["userErrors"] or not payload["inviteUrl"]:
        raise BenchFailure(f"invite: {payload['userErrors']}")
    token = payload["inviteUrl"].rsplit("/", 1)[-1]
    accepted = await _graphql(send, ACCEPT, {"input": {"token": token,
                                                       "password": INVITEE_PASSWORD}},
                              {"content-type": "application/json"}, "accept", decode=True)
    payload = accepted["data"]["acceptInvitation"]
    if payload["userErrors"] or not payload["token"]:
        raise BenchFailure(f"accept: {payload['userErrors']}")


async def invite_accept_floor(send: Send, data: BenchData, client: int, i: int) -> None:
    invited = await _floor(send, "/invite", _invitee(data, client, i, "f"),
                           data.token(data.admin_tokens, client), decode=True)
    await _floor(send, "/accept", {"token": invited["data"]["token"],
                                   "password": INVITEE_PASSWORD},
                 {"content-type": "application/json"}, decode=True)


def feed_pages() -> tuple[Iteration, Iteration]:
    cursors: dict[tuple[str, int], str | None] = {}

    def turn(side: str, client: int, page: dict[str, Any]) -> None:
        info = page["pageInfo"]
        cursors[(side, client)] = info["endCursor"] if info["hasNextPage"] else None

    async def graphql(send: Send, data: BenchData, client: int, i: int) -> None:
        answer = await _graphql(send, FEED, {"after": cursors.get(("g", client))},
                                data.token(data.client_tokens, client), "feed", decode=True)
        turn("g", client, answer["data"]["changes"])

    async def floor(send: Send, data: BenchData, client: int, i: int) -> None:
        answer = await _floor(send, "/feed", {"after": cursors.get(("f", client)),
                                              "first": 100},
                              data.token(data.client_tokens, client), decode=True)
        turn("f", client, answer["data"]["changes"])

    return graphql, floor


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    graphql: Iteration
    floor: Iteration
    needs: tuple[str, ...] = ()  # root fields the GraphQL side needs; absent: "n/a"
    slow: bool = False  # argon2 per iteration: fewer requests


WORKLOADS = (
    Workload("portal_50", "external portal, 50 jobs", *portal(10)),
    Workload("portal_500", "external portal, 500 jobs", *portal(100)),
    Workload("search", "admin externalUsers(search:)", search_graphql, search_floor,
             needs=("externalUsers",)),
    Workload("node", "node(id:) of a job, with its customer", node_graphql, node_floor),
    Workload("map", "external map: mapCaptures(within: 1 degree box) as GeoJSON", map_graphql,
             map_floor),
    Workload("invite_accept", "invite -> accept round trip", invite_accept_graphql,
             invite_accept_floor, needs=("inviteExternalUser", "acceptInvitation"), slow=True),
    Workload("feed", "partner feed, pages of 100 changes", *feed_pages(), needs=("changes",)),
)


def available(workload: Workload, data: BenchData) -> bool:
    return all(name in data.graphql_fields for name in workload.needs)


def schema_root_fields() -> frozenset[str]:
    """Root fields the admin and anonymous schemas offer now: a workload whose fields are not
    there yet is measured on the floor only, and picked up once they exist."""
    from portal_graph.graphql.schema import audience_schema
    from portal_graph.scope import Audience

    names: set[str] = set()
    for audience in (Audience.ADMIN, Audience.ANONYMOUS):
        schema = audience_schema(audience)._schema
        for root in (schema.query_type, schema.mutation_type):
            if root is not None:
                names.update(root.fields)
    return frozenset(names)


# --- server settings -------------------------------------------------------------------------


def bench_environment(database_url: str, data_dir: str | None = None) -> dict[str, str]:
    """Environment for a bench server: the bench database, no mail worker, roomy limits."""
    return {
        "DATABASE_URL": database_url,
        "DATA_DIR": data_dir or tempfile.mkdtemp(prefix="portal-graph-bench-"),
        "SECRET_KEY": "bench-secret-key-" + "0" * 32,
        "RUN_OUTBOX_WORKER": "false",
        "LOG_LEVEL": "WARNING",
        "GRAPHIQL": "false",
        "PORTAL_URL": "http://127.0.0.1/accept/",
        "QUERY_MAX_COST": str(BENCH_MAX_COST),
        # 32 clients queue behind one worker: 500-job answers must not time out in the queue.
        "REQUEST_TIMEOUT_SECONDS": "60",
        "SHUTDOWN_GRACE_SECONDS": "90",
        "RATE_LIMIT_INVITES_PER_ORGANIZATION": GENEROUS,
        "RATE_LIMIT_ACCEPT_PER_ADDRESS": GENEROUS,
        "RATE_LIMIT_PREVIEW_PER_ADDRESS": GENEROUS,
        "RATE_LIMIT_LOGIN_PER_ADDRESS": GENEROUS,
        "RATE_LIMIT_LOGIN_PER_EMAIL": GENEROUS,
        # The accept of invite -> accept is a request without a token, from one address.
        "RATE_LIMIT_ANONYMOUS_PER_ADDRESS": GENEROUS,
        # The bench measures throughput: no cost bucket may throttle its clients (the cost
        # accounting itself still runs, and is measured).
        "COST_BUCKET_STAFF": ROOMY_BUCKET,
        "COST_BUCKET_EXTERNAL": ROOMY_BUCKET,
        "COST_BUCKET_ANONYMOUS": ROOMY_BUCKET,
    }


def bench_settings(database_url: str, **overrides: Any) -> Any:
    """The same settings, in process (statement counts, profiling)."""
    from portal_graph.config import load_settings

    environment = bench_environment(database_url)
    values: dict[str, Any] = {key.lower(): value for key, value in environment.items()}
    values.update(overrides)
    return load_settings(**values)
