"""Every read path of the schema, asked through the HTTP endpoint and compared with the oracle.

`observe` asks the API and `expect` asks the oracle; both answer with the same flat dict, keyed
by path (`customer(org1/C2).jobs`, `node(org2/J3:COMPLETED)`, ...) with labels as values, so a
failing comparison names exactly the path and the objects that differ.

Paths: `me` (its organization, and an external user's `customerIds`); `customers`
(+ totalCount) and, under each customer, its `jobs`, `mapCaptures`,
`assets`; `jobs` (all, per status, per customerId) and, under each job, its `customer`,
`assets`, `mapCaptures`; `mapCaptures` (all, per customerId) and under each its `job` and
`customer`; `customer(id:)` and `job(id:)` on every customer and job id of the world (every
organization) and on unknown ids; `node(id:)` on every id of the world, of every type, on
unknown ids, and on ids whose type name does not match their row; for admins, `externalUsers`,
`invitations`, `auditEvents` (with their customers) and each customer's `externalUsers` and
`pendingInvitations`.

One member's operations go to /graphql as batched POSTs (the endpoint's own batching, up to its
limit of 10): one viewer lookup and one transaction per POST instead of per operation, which
keeps a generated world to a few seconds. Every operation still runs alone, with fresh loaders.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

from tests.factories import INVALID_TOKEN
from tests.permissions.oracle import Sight, sight
from tests.permissions.world import InvitationState, JobStatus, Member, Role, World, gid

FIRST = 10  # generated worlds stay below this per list: one page is the whole list
PAGE = "totalCount edges { node { id } }"

# `me` asked apart from the lists: the lists are a plannable read (graphql/compiled/), which
# the visibility property then checks on the compiled path too; `me` runs on graphql-core.
ME = "{ me { customerIds organization { id } } }"
LISTS = f"""{{
  customers(first: {FIRST}) {{ totalCount edges {{ node {{ id
    jobs(first: {FIRST}) {{ {PAGE} }}
    COMPLETED: jobs(first: {FIRST}, status: COMPLETED) {{ {PAGE} }}
    SCHEDULED: jobs(first: {FIRST}, status: SCHEDULED) {{ {PAGE} }}
    mapCaptures(first: {FIRST}) {{ {PAGE} }}
    assets(first: {FIRST}) {{ {PAGE} }} }} }} }}
  jobs(first: {FIRST}) {{ totalCount edges {{ node {{ id customer {{ id }}
    assets(first: {FIRST}) {{ {PAGE} }}
    mapCaptures(first: {FIRST}) {{ {PAGE} }} }} }} }}
""" + "".join(f"  {s.value}: jobs(first: {FIRST}, status: {s.value}) {{ {PAGE} }}\n"
              for s in JobStatus) + f"""  mapCaptures(first: {FIRST}) {{ totalCount edges {{
    node {{ id job {{ id }} customer {{ id }} }} }} }}
}}"""

NESTED_STATUSES = (JobStatus.COMPLETED, JobStatus.SCHEDULED)  # asked under `customers`

# ADMIN only (section 2: external users, invitations and the audit log), one document each.
ADMIN_LISTS = (
    "{ externalUsers(first: 10) { totalCount edges { node { id customers { id } } } } }",
    "{ invitations(first: 10) { totalCount edges { node { id customers { id } } } } }",
    "{ auditEvents(first: 10) { totalCount edges { node { id } } } }",
    "{ customers(first: 5) { edges { node { id externalUsers { id } "
    "pendingInvitations { id } } } } }",
)

NODE_LINKS = """fragment Links on Node { __typename id
  ... on Job { customer { id } }
  ... on Asset { customer { id } }
  ... on MapCapture { job { id } customer { id } } }"""

UNKNOWN_TYPES = ("Organization", "Person", "Customer", "Job", "Asset", "MapCapture",
                 "StaffMember", "ExternalUser", "Invitation", "AuditEvent", "ApiToken")


class Labels:
    """Global id <-> readable label, for every id the checks use."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.by_gid: dict[str, str] = {}
        self.typed: list[tuple[str, uuid.UUID, str]] = []  # (type, uuid, global id)
        for type_name, id_ in world.typed_ids():
            self._add(type_name, id_, world.labels[id_])
        # Right uuid, wrong type name: must not fetch the row under another type.
        for type_name, rows in (("Customer", world.jobs), ("Job", world.captures),
                                ("MapCapture", world.assets)):
            for id_ in list(rows)[:2]:
                self._add(type_name, id_, f"{world.labels[id_]} as {type_name}")
        for type_name in UNKNOWN_TYPES:
            self._add(type_name, uuid.uuid4(), f"unknown {type_name}")
        self.garbage = {"not-an-id": "garbage id", "": "empty id"}
        self.unknown_customer = uuid.uuid4()
        self.unknown_job = uuid.uuid4()
        self.unknown: dict[uuid.UUID, str] = {}
        for type_name, id_ in (("Customer", self.unknown_customer), ("Job", self.unknown_job)):
            self.unknown[id_] = self.by_gid[gid(type_name, id_)] = f"unknown {type_name} id"

    def _add(self, type_name: str, id_: uuid.UUID, label: str) -> None:
        global_id = gid(type_name, id_)
        self.by_gid[global_id] = label
        self.typed.append((type_name, id_, global_id))

    def of(self, global_id: str) -> str:
        return self.by_gid.get(global_id, f"UNLABELLED {global_id}")

    def __call__(self, id_: uuid.UUID) -> str:
        return self.unknown.get(id_) or self.world.labels[id_]


# --- what the oracle says ------------------------------------------------------------------


def _page(out: dict[str, Any], key: str, ids: Any, label: Labels) -> None:
    out[key] = sorted(label(i) for i in ids)
    out[f"{key}.totalCount"] = len(out[key])


def _customer_parts(out: dict[str, Any], key: str, customer: uuid.UUID, world: World,
                    seen: Sight, label: Labels, statuses: tuple[JobStatus, ...] = ()) -> None:
    _page(out, f"{key}.jobs", [j for j in seen.jobs
                               if world.jobs[j].customer_id == customer], label)
    for status in statuses:
        _page(out, f"{key}.jobs(status: {status.value})",
              [j for j in seen.jobs if world.jobs[j].customer_id == customer
               and world.jobs[j].status is status], label)
    _page(out, f"{key}.mapCaptures", [m for m in seen.captures
                                      if world.captures[m].customer_id == customer], label)
    _page(out, f"{key}.assets", [a for a in seen.assets
                                 if world.assets[a].customer_id == customer], label)


def _job_parts(out: dict[str, Any], key: str, job: uuid.UUID, world: World, seen: Sight,
               label: Labels) -> None:
    out[f"{key}.customer"] = label(world.jobs[job].customer_id)
    _page(out, f"{key}.assets", [a for a in seen.assets if (job, a) in world.links], label)
    _page(out, f"{key}.mapCaptures", [m for m in seen.captures
                                      if world.captures[m].job_id == job], label)


def _capture_parts(out: dict[str, Any], key: str, capture: uuid.UUID, world: World,
                   seen: Sight, label: Labels) -> None:
    job = world.captures[capture].job_id
    out[f"{key}.job"] = label(job) if job in seen.jobs else None
    out[f"{key}.customer"] = label(world.captures[capture].customer_id)


def _expect_admin_lists(out: dict[str, Any], world: World, seen: Sight,
                        label: Labels) -> None:
    _page(out, "externalUsers", seen.external_users, label)
    for e in seen.external_users:
        out[f"externalUsers[{label(e)}].customers"] = sorted(
            label(c) for c in world.granted(world.externals[e]))
    _page(out, "invitations", seen.invitations, label)
    for i in seen.invitations:
        out[f"invitations[{label(i)}].customers"] = sorted(
            label(c) for c in world.invitations[i].customers)
    _page(out, "auditEvents", seen.audit_events, label)
    for c in seen.customers:
        out[f"customers[{label(c)}].externalUsers"] = sorted(
            label(e) for e in seen.external_users if (e, c) in world.grants)
        out[f"customers[{label(c)}].pendingInvitations"] = sorted(
            label(i) for i in seen.invitations
            if c in world.invitations[i].customers
            and world.invitations[i].state is InvitationState.PENDING)


def expect(world: World, member: Member, label: Labels) -> dict[str, Any]:
    seen = sight(world, member)
    out: dict[str, Any] = {
        "me.customerIds": sorted(label(c) for c in seen.customers) if member.is_external
        else [],
        "me.organization": label(member.organization_id),
    }
    _page(out, "customers", seen.customers, label)
    for c in seen.customers:
        _customer_parts(out, f"customers[{label(c)}]", c, world, seen, label,
                        NESTED_STATUSES)
    _page(out, "jobs", seen.jobs, label)
    for j in seen.jobs:
        _job_parts(out, f"jobs[{label(j)}]", j, world, seen, label)
    for status in JobStatus:
        _page(out, f"jobs(status: {status.value})",
              [j for j in seen.jobs if world.jobs[j].status is status], label)
    _page(out, "mapCaptures", seen.captures, label)
    for m in seen.captures:
        _capture_parts(out, f"mapCaptures[{label(m)}]", m, world, seen, label)

    if member.role is Role.ADMIN:
        _expect_admin_lists(out, world, seen, label)

    for c in [*world.customers, label.unknown_customer]:
        key = f"customer({label(c)})"
        out[key] = label(c) if c in seen.customers else None
        if c in seen.customers:
            _customer_parts(out, key, c, world, seen, label)
        _page(out, f"jobs(customerId: {label(c)})",
              [j for j in seen.jobs if world.jobs[j].customer_id == c], label)
        _page(out, f"mapCaptures(customerId: {label(c)})",
              [m for m in seen.captures if world.captures[m].customer_id == c], label)
    for j in [*world.jobs, label.unknown_job]:
        key = f"job({label(j)})"
        out[key] = label(j) if j in seen.jobs else None
        if j in seen.jobs:
            _job_parts(out, key, j, world, seen, label)

    # Organization and Person ids are not nodes: nobody fetches them with node(id:).
    own_type = {id_: type_name for type_name, id_ in world.typed_ids()}
    for type_name, id_, global_id in label.typed:
        key = f"node({label.of(global_id)})"
        visible = id_ in seen.nodes() and own_type.get(id_) == type_name
        out[key] = f"{type_name} {label.of(global_id)}" if visible else None
        if visible and type_name == "Job":
            out[f"{key}.customer"] = label(world.jobs[id_].customer_id)
        if visible and type_name == "Asset":
            out[f"{key}.customer"] = label(world.assets[id_].customer_id)
        if visible and type_name == "MapCapture":
            _capture_parts(out, key, id_, world, seen, label)
    for garbage in label.garbage.values():
        out[f"node({garbage})"] = None
    return out


# --- what the API says ---------------------------------------------------------------------


def _read_page(out: dict[str, Any], key: str, value: dict[str, Any], label: Labels) -> None:
    out[key] = sorted(label.of(edge["node"]["id"]) for edge in value["edges"])
    out[f"{key}.totalCount"] = value["totalCount"]


def _read_customer(out: dict[str, Any], key: str, node: dict[str, Any], label: Labels) -> None:
    for part in ("jobs", "mapCaptures", "assets"):
        _read_page(out, f"{key}.{part}", node[part], label)
    for status in NESTED_STATUSES:
        if status.value in node:
            _read_page(out, f"{key}.jobs(status: {status.value})", node[status.value], label)


def _read_job(out: dict[str, Any], key: str, node: dict[str, Any], label: Labels) -> None:
    out[f"{key}.customer"] = label.of(node["customer"]["id"])
    for part in ("assets", "mapCaptures"):
        _read_page(out, f"{key}.{part}", node[part], label)


def _read_capture(out: dict[str, Any], key: str, node: dict[str, Any], label: Labels) -> None:
    out[f"{key}.job"] = label.of(node["job"]["id"]) if node["job"] else None
    out[f"{key}.customer"] = label.of(node["customer"]["id"])


def _aliased(count: int, field: str) -> str:
    """A document asking `field` (with `@n` for the alias number and `@v` for the id) for
    `count` ids passed as variables $i0.., so that its text (and the server's parse and
    validation caches) is the same for every world."""
    declared = ", ".join(f"$i{n}: ID!" for n in range(count))
    body = "\n".join("  " + field.replace("@n", str(n)).replace("@v", f"$i{n}")
                     for n in range(count))
    return f"query({declared}) {{\n{body}\n}}"


NESTED = (f"jobs(first: {FIRST}) {{ {PAGE} }} mapCaptures(first: {FIRST}) {{ {PAGE} }} "
          f"assets(first: {FIRST}) {{ {PAGE} }}")
# Each document stays below the smallest token budget that asks it: external users' 600.
BY_CUSTOMER = 4  # 3 aliases each: 12, below the server's limit of 30
CUSTOMERS_DOC = _aliased(BY_CUSTOMER, (
    f"c@n: customer(id: @v) {{ id {NESTED} }} "
    f"j@n: jobs(first: {FIRST}, customerId: @v) {{ {PAGE} }} "
    f"m@n: mapCaptures(first: {FIRST}, customerId: @v) {{ {PAGE} }}"))
BY_JOB = 8
JOBS_DOC = _aliased(BY_JOB, (
    f"j@n: job(id: @v) {{ id customer {{ id }} assets(first: {FIRST}) {{ {PAGE} }} "
    f"mapCaptures(first: {FIRST}) {{ {PAGE} }} }}"))
BY_NODE = 25
NODES_DOC = _aliased(BY_NODE, "n@n: node(id: @v) { ...Links }") + "\n" + NODE_LINKS
BATCH = 10  # the server's batch limit
PADDING = "padding"  # not an id: answered null without a query


def _chunks(ids: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        chunk = ids[start:start + size]
        yield chunk + [PADDING] * (size - len(chunk))


Reader = Callable[[dict[str, Any]], None]


def _read_admin_lists(out: dict[str, Any], label: Labels) -> list[Reader]:
    def ids(values: list[dict[str, Any]]) -> list[str]:
        return sorted(label.of(value["id"]) for value in values)

    def listing(name: str) -> Reader:
        def read(data: dict[str, Any]) -> None:
            _read_page(out, name, data[name], label)
            for edge in data[name]["edges"]:
                if "customers" in edge["node"]:
                    out[f"{name}[{label.of(edge['node']['id'])}].customers"] = ids(
                        edge["node"]["customers"])
        return read

    def customers(data: dict[str, Any]) -> None:
        for edge in data["customers"]["edges"]:
            key = f"customers[{label.of(edge['node']['id'])}]"
            out[f"{key}.externalUsers"] = ids(edge["node"]["externalUsers"])
            out[f"{key}.pendingInvitations"] = ids(edge["node"]["pendingInvitations"])

    return [listing("externalUsers"), listing("invitations"), listing("auditEvents"),
            customers]


def _operations(world: World, member: Member, label: Labels,
                out: dict[str, Any]) -> list[tuple[str, list[str], Reader]]:
    """(document, ids, reader of its data into `out`) for every read path."""

    def me(data: dict[str, Any]) -> None:
        out["me.customerIds"] = sorted(label.of(c) for c in data["me"]["customerIds"])
        out["me.organization"] = label.of(data["me"]["organization"]["id"])

    def lists(data: dict[str, Any]) -> None:
        _read_page(out, "customers", data["customers"], label)
        for edge in data["customers"]["edges"]:
            _read_customer(out, f"customers[{label.of(edge['node']['id'])}]", edge["node"],
                           label)
        _read_page(out, "jobs", data["jobs"], label)
        for edge in data["jobs"]["edges"]:
            _read_job(out, f"jobs[{label.of(edge['node']['id'])}]", edge["node"], label)
        for status in JobStatus:
            _read_page(out, f"jobs(status: {status.value})", data[status.value], label)
        _read_page(out, "mapCaptures", data["mapCaptures"], label)
        for edge in data["mapCaptures"]["edges"]:
            _read_capture(out, f"mapCaptures[{label.of(edge['node']['id'])}]", edge["node"],
                          label)

    def customers(chunk: list[str]) -> Reader:
        def read(data: dict[str, Any]) -> None:
            for n, customer_id in enumerate(chunk):
                if customer_id == PADDING:
                    continue
                name = label.of(customer_id)
                _read_page(out, f"jobs(customerId: {name})", data[f"j{n}"], label)
                _read_page(out, f"mapCaptures(customerId: {name})", data[f"m{n}"], label)
                value = data[f"c{n}"]
                out[f"customer({name})"] = None if value is None else label.of(value["id"])
                if value is not None:
                    _read_customer(out, f"customer({name})", value, label)
        return read

    def jobs(chunk: list[str]) -> Reader:
        def read(data: dict[str, Any]) -> None:
            for n, job_id in enumerate(chunk):
                if job_id == PADDING:
                    continue
                key, value = f"job({label.of(job_id)})", data[f"j{n}"]
                out[key] = None if value is None else label.of(value["id"])
                if value is not None:
                    _read_job(out, key, value, label)
        return read

    def nodes(chunk: list[str]) -> Reader:
        def read(data: dict[str, Any]) -> None:
            for n, global_id in enumerate(chunk):
                if global_id == PADDING:
                    continue
                key = f"node({label.garbage.get(global_id) or label.of(global_id)})"
                value = data[f"n{n}"]
                out[key] = (None if value is None
                            else f"{value['__typename']} {label.of(value['id'])}")
                if value is not None and value["__typename"] in ("Job", "Asset"):
                    out[f"{key}.customer"] = label.of(value["customer"]["id"])
                if value is not None and value["__typename"] == "MapCapture":
                    _read_capture(out, key, value, label)
        return read

    operations: list[tuple[str, list[str], Reader]] = [(ME, [], me), (LISTS, [], lists)]
    if member.role is Role.ADMIN:
        operations += [(document, [], read) for document, read
                       in zip(ADMIN_LISTS, _read_admin_lists(out, label), strict=True)]
    customer_ids = [gid("Customer", c) for c in [*world.customers, label.unknown_customer]]
    operations += [(CUSTOMERS_DOC, chunk, customers(chunk))
                   for chunk in _chunks(customer_ids, BY_CUSTOMER)]
    job_ids = [gid("Job", j) for j in [*world.jobs, label.unknown_job]]
    operations += [(JOBS_DOC, chunk, jobs(chunk)) for chunk in _chunks(job_ids, BY_JOB)]
    every = [global_id for _, _, global_id in label.typed] + list(label.garbage)
    operations += [(NODES_DOC, chunk, nodes(chunk)) for chunk in _chunks(every, BY_NODE)]
    return operations


async def observe(api: Any, world: World, member: Member, token: str,
                  label: Labels) -> dict[str, Any]:
    """Ask every path through /graphql, in batched POSTs (BATCH operations each)."""
    out: dict[str, Any] = {}
    operations = _operations(world, member, label, out)
    for start in range(0, len(operations), BATCH):
        batch = operations[start:start + BATCH]
        response = await api.client.post("/graphql", headers={"Authorization": f"Bearer {token}"},
                                          json=[{"query": document, "variables": {
                                              f"i{n}": id_ for n, id_ in enumerate(ids)}}
                                              for document, ids, _ in batch])
        assert response.status_code == 200, response.text
        for (_, _, read), result in zip(batch, response.json(), strict=True):
            assert "errors" not in result, f"the API answered with errors: {result['errors']}"
            read(result["data"])
    return out


def differences(expected: dict[str, Any], observed: dict[str, Any]) -> list[str]:
    """Readable lines, one per path where the API and the oracle disagree."""
    lines = []
    for key in sorted(expected.keys() | observed.keys()):
        want, got = expected.get(key, "<absent>"), observed.get(key, "<absent>")
        if want != got:
            lines.append(f"  {key}: expected {want!r}, API gave {got!r}")
    return lines


async def check_member(api: Any, world: World, member: Member, token: str) -> list[str]:
    """Every path for one member; the disagreements, headed by who was asking."""
    label = Labels(world)
    observed = await observe(api, world, member, token, label)
    found = differences(expect(world, member, label), observed)
    if not found:
        return []
    who = f"{world.labels[member.id]} ({world.labels[member.person_id]})"
    return [f"as {who}:", *found]


SIGNED_OUT_PROBES = ("{ me { email } }", "{ customers { totalCount } }",
                     "{ staffMembers { totalCount } }")


async def check_signed_out(api: Any, world: World, member: Member, token: str) -> list[str]:
    """A credential that acts for nobody (its membership deactivated) is a dead token: every
    request with it is refused 401 `invalid_token`, whatever it asks."""
    observed = []
    for document in SIGNED_OUT_PROBES:
        answer = await api(document, token=token)
        observed.append((api.response.status_code, answer))
    expected = [(401, INVALID_TOKEN)] * len(SIGNED_OUT_PROBES)
    if observed == expected:
        return []
    return [f"as {world.labels[member.id]}, signed out: expected {expected}, got {observed}"]
