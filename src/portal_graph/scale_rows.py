"""The rows of a large, realistic organization for benchmarks, made up: no database here
(scale.py loads them with COPY, `portal-graph seed-scale`).

The shape follows what the product expects: job counts per customer are skewed (a few large
customers, a long tail), about 60% of jobs are completed, most map captures belong to a job and
the rest to a customer only, assets are linked to their customer's jobs, and every external user
has 1 to `grants_max` customer grants. Ids are UUIDv7 stamped with each row's creation time, so
"newest first" (id order) matches the dates. The rows are drawn from a generator seeded by the
sizes: the same sizes make the same names, references and shapes.
"""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from portal_graph.auth.passwords import hash_password_sync

ADMIN_PASSWORD = "scale-admin-password"
CLIENT_PASSWORD = "scale-client-password"
MEMBER_PASSWORD = "scale-member-password"
STAFF_COUNT = 25
YEARS = 3

FIRST_NAMES = (
    "Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Willow Florence "
    "Emily Ella Poppy Evie Elsie Charlotte Oliver Noah George Arthur Muhammad Leo Harry Oscar "
    "Archie Henry Theodore Freddie Jack Charlie Theo Alfie Jacob Thomas Finley Arlo Amara "
    "Chidi Aisha Kwame Priya Ravi Anjali Sanjay Mei Wei Hiroshi Yuki Sofia Mateo Lucia Diego "
    "Ingrid Lars Katarzyna Piotr Niamh Ciaran Siobhan Rhys Bethan Dylan Eilidh Callum Fatima "
    "Omar Zainab Tariq Ada Emeka Ngozi Tunde Leila Samir Nadia Youssef Hannah Daniel Rachel"
).split()
LAST_NAMES = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
    "Walker White Roberts Green Hall Wood Jackson Clarke Patel Khan Lewis James Phillips Mason "
    "Mitchell Rose Davis Rodriguez Cox Alexander Morgan Moore Hughes Price Bennett Gray "
    "Okafor Adeyemi Mensah Nwosu Chowdhury Begum Hussain Ahmed Singh Kaur Sharma Gupta Nguyen "
    "Tanaka Kowalski Nowak Murphy Kelly Byrne Walsh Ryan Gallagher Campbell Stewart MacDonald "
    "Fraser Reid Griffiths Pritchard Llewellyn Vaughan Fischer Schneider Novak Rossi Ferrari "
    "Garcia Martinez Fernandes Silva Haddad Karimi Rahman Osei Achterberg Lindqvist Halvorsen"
).split()
PLACES = (
    "Riverside Harbour Northgate Southfield Westbrook Eastleigh Oakwood Ashford Kingsmead "
    "Elmstead Millbrook Stonebridge Fairview Highcliff Meadowbank Larchfield Brookside Hillcrest "
    "Seaview Greenhill Redbridge Whitmore Blackwater Foxley Hawthorn Ravenscroft Thornbury "
    "Willowdale Castlegate Abbeyfield Bramley Copperfield Dunmore Glenfield Holloway Lockwood "
    "Marlow Norbury Pembridge Queensway Rosemount Sandford Tidewell Upton Victoria Wexcombe"
).split()
KINDS = ("Council", "Apartments", "Business Park", "Primary School", "Academy", "Housing",
         "Leisure Centre", "Retail Park", "Hospital Trust", "Parish Council", "Golf Club",
         "Library", "Surgery", "Care Home", "Logistics Hub", "Marina", "Sports Club",
         "Cemetery", "Community Centre", "Estates", "Water Works", "Depot", "Campus")
JOB_TITLES = ("Quarterly inspection", "Annual service", "Filter change", "Safety certification",
              "Mowing and edging", "Hedge trimming", "Leaf clearance", "Gritting run",
              "Drain survey", "Lighting repair", "Line marking", "Tree survey",
              "Fence repair", "Graffiti removal", "Pump service", "Irrigation check",
              "Playground inspection", "Weed control", "Pressure washing", "Gutter clearance")
ASSET_KINDS = ("Pump", "Lift", "Lawn", "Playground", "Lighting", "Field", "Boiler", "Gate",
               "Fence", "Drain", "Tree", "Irrigation", "Generator", "Barrier", "Hedge")
NOTES = ("Site photo point", "Damage noted", "Access via side gate", "Meter reading",
         "Before work", "After work", "Hazard marked", "Boundary marker", "Sample taken",
         "Fallen tree reported", "Standing water", "Surface worn")
STATUSES = (("COMPLETED", 60), ("SCHEDULED", 15), ("IN_PROGRESS", 10), ("CANCELLED", 15))


@dataclass(frozen=True)
class Sizes:
    customers: int = 2000
    jobs: int = 200_000
    captures: int = 600_000
    assets: int = 50_000
    external_users: int = 20_000
    grants_max: int = 5
    # External users with the same grants as the client: a load generator's clients are
    # different people (one person's concurrent sessions contend on their membership row).
    twins: int = 31

    def __post_init__(self) -> None:
        if self.customers < 1 or self.grants_max < 1 or min(asdict(self).values()) < 0:
            raise ValueError("sizes must be positive (at least one customer and one grant)")

    @property
    def organization_name(self) -> str:
        return ("Scale organization (" + ", ".join(f"{k}={v}" for k, v in asdict(self).items())
                + ")")

    @property
    def tag(self) -> str:
        return hashlib.sha256(self.organization_name.encode()).hexdigest()[:6]

    @property
    def admin_email(self) -> str:
        return f"scale-admin-{self.tag}@scale.example"

    @property
    def client_email(self) -> str:
        return self.client_emails[0]

    @property
    def client_emails(self) -> list[str]:
        """The client and their twins (same password, same customers)."""
        return [f"scale-client-{self.tag}@scale.example",
                *(f"scale-client-{self.tag}-{n}@scale.example" for n in range(1, self.twins + 1))]


QUICK = Sizes(customers=100, jobs=20_000, captures=60_000, assets=5_000, external_users=2_000)


class Ids:
    """UUIDv7 at a given time, from a seeded generator: fast and reproducible."""

    def __init__(self, rng: random.Random) -> None:
        self.bits = rng.getrandbits

    def at(self, when: datetime) -> uuid.UUID:
        millis = int(when.timestamp() * 1000)
        return uuid.UUID(int=(millis << 80) | (0x7 << 76) | (self.bits(12) << 64)
                         | (0b10 << 62) | self.bits(62))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _skewed_counts(total: int, buckets: int, rng: random.Random) -> list[int]:
    """`total` split over `buckets` with weights 1/sqrt(rank): a few large, a long tail."""
    weights = [1 / (rank + 1) ** 0.5 for rank in range(buckets)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    for i in rng.sample(range(buckets), k=min(buckets, total - sum(counts))):
        counts[i] += 1
    return counts


class _Generator:
    def __init__(self, sizes: Sizes, organization_id: uuid.UUID, now: datetime) -> None:
        self.sizes = sizes
        self.org = organization_id
        self.now = now
        self.rng = random.Random(int(sizes.tag, 16))
        self.ids = Ids(self.rng)
        self.start = now - timedelta(days=365 * YEARS)

    def moment(self) -> datetime:
        return self.start + timedelta(seconds=self.rng.random() * (self.now - self.start)
                                      .total_seconds())

    def customers(self) -> list[tuple[Any, ...]]:
        names: set[str] = set()
        rows = []
        for _ in range(self.sizes.customers):
            name = f"{self.rng.choice(PLACES)} {self.rng.choice(KINDS)}"
            if name in names:
                name = f"{name} {len(names)}"
            names.add(name)
            created = self.moment()
            rows.append((self.org, self.ids.at(created), name, created))
        return rows

    def jobs(self, customer_ids: Sequence[uuid.UUID],
             staff_ids: Sequence[uuid.UUID]) -> list[tuple[Any, ...]]:
        rng, statuses = self.rng, [s for s, _ in STATUSES]
        weights = [w for _, w in STATUSES]
        counts = _skewed_counts(self.sizes.jobs, len(customer_ids), rng)
        rows: list[tuple[Any, ...]] = []
        for customer_id, count in zip(customer_ids, counts, strict=True):
            for _ in range(count):
                created = self.moment()
                status = rng.choices(statuses, weights)[0]
                scheduled = created + timedelta(days=rng.randint(0, 30), hours=rng.randint(7, 16))
                if status in ("SCHEDULED", "IN_PROGRESS") and scheduled < self.now:
                    scheduled = self.now + timedelta(days=rng.randint(0, 60))
                completed = (min(scheduled + timedelta(hours=rng.randint(1, 8)), self.now)
                             if status == "COMPLETED" else None)
                reference = f"SC-{len(rows) + 1:07d}"
                rows.append((
                    self.org, self.ids.at(created), customer_id, reference,
                    f"{rng.choice(JOB_TITLES)}, {rng.choice(ASSET_KINDS).lower()}", status,
                    scheduled, completed,
                    "Gate code 4411; call the site contact first." if rng.random() < 0.3
                    else None,
                    Decimal(rng.randint(5_000, 500_000)) / 100, rng.choice(staff_ids), created))
        return rows

    def assets(self, customer_ids: Sequence[uuid.UUID]) -> list[tuple[Any, ...]]:
        counts = _skewed_counts(self.sizes.assets, len(customer_ids), self.rng)
        rows = []
        for customer_id, count in zip(customer_ids, counts, strict=True):
            for n in range(count):
                kind = self.rng.choice(ASSET_KINDS)
                created = self.moment()
                rows.append((self.org, self.ids.at(created), customer_id, f"{kind} {n + 1}",
                             kind, f"SN-{self.rng.getrandbits(32):08X}",
                             f"{self.rng.choice(PLACES)} site, area {self.rng.randint(1, 9)}",
                             created))
        return rows

    def job_assets(self, jobs: Sequence[tuple[Any, ...]],
                   assets_by_customer: dict[uuid.UUID, list[uuid.UUID]]) -> list[tuple[Any, ...]]:
        rows = []
        for job in jobs:
            choices = assets_by_customer.get(job[2])
            if choices:
                for asset_id in self.rng.sample(choices, k=min(len(choices),
                                                               self.rng.randint(0, 3))):
                    rows.append((self.org, job[1], asset_id))
        return rows

    def captures(self, jobs: Sequence[tuple[Any, ...]], customer_ids: Sequence[uuid.UUID],
                 staff_ids: Sequence[uuid.UUID]) -> Iterable[tuple[Any, ...]]:
        rng = self.rng
        for _ in range(self.sizes.captures):
            if jobs and rng.random() < 0.85:
                job = rng.choice(jobs)
                customer_id, job_id = job[2], job[1]
                captured = job[6] + timedelta(minutes=rng.randint(0, 240))
                captured = min(captured, self.now)
            else:
                customer_id, job_id, captured = rng.choice(customer_ids), None, self.moment()
            latitude = round(50 + rng.random() * 5, 6)
            longitude = round(-5 + rng.random() * 6, 6)
            geometry = (orjson.dumps({"type": "Point", "coordinates": [longitude, latitude]})
                        .decode() if rng.random() < 0.2 else None)
            yield (self.org, self.ids.at(captured), customer_id, job_id, captured, latitude,
                   longitude, geometry, f"{rng.choice(NOTES)} {rng.randint(1, 99)}",
                   rng.choice(staff_ids), captured)

    def person(self, n: int, domain: str, created: datetime,
               password_hash: str) -> tuple[Any, ...]:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        email = f"{first}.{last}.{self.sizes.tag}{n}@{domain}".lower()
        return (self.ids.at(created), email, email, f"{first} {last}", password_hash, created)


TABLE_COLUMNS = {
    "organizations": ("id", "name", "invitation_ttl_days", "created_at"),
    "persons": ("id", "email", "email_normalized", "name", "password_hash", "created_at"),
    "staff_members": ("organization_id", "id", "person_id", "role", "created_at"),
    "customers": ("organization_id", "id", "name", "created_at"),
    "external_users": ("organization_id", "id", "person_id", "invited_at", "joined_at",
                       "last_seen_at"),
    "customer_grants": ("organization_id", "external_user_id", "customer_id", "granted_at"),
    "assets": ("organization_id", "id", "customer_id", "name", "kind", "serial_number",
               "location", "created_at"),
    "jobs": ("organization_id", "id", "customer_id", "reference", "title", "status",
             "scheduled_for", "completed_at", "internal_notes", "price", "created_by_id",
             "created_at"),
    "job_assets": ("organization_id", "job_id", "asset_id"),
    "job_assignments": ("organization_id", "job_id", "staff_member_id"),
    "map_captures": ("organization_id", "id", "customer_id", "job_id", "captured_at",
                     "latitude", "longitude", "geometry", "note", "captured_by_id",
                     "created_at"),
}



@dataclass(frozen=True)
class OrganizationRows:
    """A new organization's rows, table by table in TABLE_COLUMNS' order (which is an order
    their foreign keys allow); map captures and job assignments are made while read."""

    organization_id: uuid.UUID
    tables: dict[str, Iterable[tuple[Any, ...]]]
    total: int  # rows in all


def organization_rows(sizes: Sizes) -> OrganizationRows:
    """A new organization of `sizes`, its id drawn afresh, its rows from the sizes' seed."""
    now = datetime.now(UTC)
    organization_id = Ids(random.Random()).at(now - timedelta(days=365 * YEARS + 1))
    gen = _Generator(sizes, organization_id, now)
    member_hash = hash_password_sync(MEMBER_PASSWORD)  # one hash for the crowd: argon2 is slow

    customers = gen.customers()
    customer_ids = [row[1] for row in customers]
    staff_people = [gen.person(n, "scale-staff.example", gen.start, member_hash)
                    for n in range(STAFF_COUNT)]
    admin = (gen.ids.at(gen.start), sizes.admin_email, sizes.admin_email, "Sam Scale-Admin",
             hash_password_sync(ADMIN_PASSWORD), gen.start)
    staff = [(organization_id, gen.ids.at(gen.start), person[0],
              "ADMIN" if person is admin else "USER", gen.start)
             for person in (admin, *staff_people)]
    staff_ids = [row[1] for row in staff]
    jobs = gen.jobs(customer_ids, staff_ids)
    assets = gen.assets(customer_ids)
    assets_by_customer: dict[uuid.UUID, list[uuid.UUID]] = {}
    for asset in assets:
        assets_by_customer.setdefault(asset[2], []).append(asset[1])
    job_assets = gen.job_assets(jobs, assets_by_customer)
    externals, external_people, grants = _external_users(gen, customers, member_hash)
    # The bench's clients: the largest customers (job counts fall with the customer's rank).
    client_created = gen.start
    client_hash = hash_password_sync(CLIENT_PASSWORD)
    for n, email in enumerate(sizes.client_emails):
        client = (gen.ids.at(client_created), email, email,
                  "Casey Scale-Client" if n == 0 else f"Casey Scale-Client {n}", client_hash,
                  client_created)
        client_member = (organization_id, gen.ids.at(client_created), client[0],
                         client_created, client_created, None)
        external_people.append(client)
        externals.append(client_member)
        grants.extend((organization_id, client_member[1], customer_id, client_created)
                      for customer_id in customer_ids[:sizes.grants_max])

    persons = [admin, *staff_people, *external_people]
    total = (1 + len(persons) + len(staff) + len(customers) + len(externals) + len(grants)
             + len(assets) + 2 * len(jobs) + len(job_assets) + sizes.captures)
    tables: dict[str, Iterable[tuple[Any, ...]]] = {
        "organizations": [(organization_id, sizes.organization_name, 30, gen.start)],
        "persons": persons,
        "staff_members": staff,
        "customers": customers,
        "external_users": externals,
        "customer_grants": grants,
        "assets": assets,
        "jobs": jobs,
        "job_assets": job_assets,
        "job_assignments": ((organization_id, job[1], job[10]) for job in jobs),
        "map_captures": gen.captures(jobs, customer_ids, staff_ids),
    }
    return OrganizationRows(organization_id, tables, total)


def _external_users(gen: _Generator, customers: Sequence[tuple[Any, ...]],
                    password_hash: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]],
                                                 list[tuple[Any, ...]]]:
    rng, org, sizes = gen.rng, gen.org, gen.sizes
    weights = [1 / (rank + 1) ** 0.5 for rank in range(len(customers))]
    externals: list[tuple[Any, ...]] = []
    people: list[tuple[Any, ...]] = []
    grants: list[tuple[Any, ...]] = []
    for n in range(sizes.external_users):
        invited = gen.moment()
        home = rng.choices(customers, weights)[0]
        person = gen.person(n, f"{_slug(home[2])}.example", invited, password_hash)
        people.append(person)
        joined = invited + timedelta(hours=rng.randint(1, 72))
        seen = min(joined + timedelta(days=rng.randint(0, 400)), gen.now) \
            if rng.random() < 0.8 else None
        member_id = gen.ids.at(invited)
        externals.append((org, member_id, person[0], invited, min(joined, gen.now), seen))
        granted = {home[1]}
        for _ in range(rng.randint(1, sizes.grants_max) - 1):
            granted.add(rng.choices(customers, weights)[0][1])
        grants.extend((org, member_id, customer_id, invited) for customer_id in granted)
    return externals, people, grants
