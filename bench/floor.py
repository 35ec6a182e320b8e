"""The floor: the benchmark's workloads as raw asyncpg and orjson behind a bare Starlette app.

Same SQL as the GraphQL server (the session lookup with its grants, the visibility filters, the
window functions that page nested lists, the invite and accept writes), in one transaction per
request, on a pool of the same size, served by uvicorn the same way. No GraphQL, no ORM, no
objects per row. It answers the same JSON shapes and says how many statements it ran in
`X-SQL-Statements`. Served with `uvicorn bench.floor:create_app --factory`; reads
BENCH_DATABASE_URL and DB_POOL_SIZE.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# The server's id and token helpers (plain functions); nothing of its GraphQL or ORM layer.
from portal_graph.auth.tokens import token_digest
from portal_graph.db.models import new_id

# The session lookup, as auth/repository.py runs it: the viewer and their grants in one go.
VIEWER = """
SELECT c.id AS credential_id, c.organization_id, c.person_id, c.last_seen_at,
       p.email, p.name, sm.id AS staff_member_id, sm.role,
       eu.id AS external_user_id,
       COALESCE((SELECT array_agg(g.customer_id) FROM customer_grants g
                  WHERE g.organization_id = c.organization_id
                    AND g.external_user_id = eu.id), '{}') AS grants
FROM sessions c
JOIN persons p ON p.id = c.person_id
LEFT JOIN staff_members sm
       ON sm.organization_id = c.organization_id AND sm.person_id = c.person_id
LEFT JOIN external_users eu
       ON eu.organization_id = c.organization_id AND eu.person_id = c.person_id
      AND eu.access_revoked_at IS NULL
WHERE c.token_hash = $1 AND c.ended_at IS NULL AND c.expires_at > now()
  AND c.last_seen_at > now() - make_interval(mins => $2)"""
IDLE_MINUTES = 60 * 24

# External scope: $1 organization, $2 granted customers.
CUSTOMERS = """SELECT organization_id, id, name, created_at FROM customers
WHERE organization_id = $1 AND id = ANY($2::uuid[]) ORDER BY name, id LIMIT $3"""
JOBS = """SELECT * FROM (
  SELECT j.*, row_number() OVER (PARTITION BY j.customer_id ORDER BY j.id DESC) AS _position
  FROM jobs j
  WHERE j.organization_id = $1 AND j.customer_id = ANY($2::uuid[]) AND j.status = 'COMPLETED'
    AND j.status = 'COMPLETED' AND j.customer_id = ANY($3::uuid[])) AS t
WHERE _position <= $4 ORDER BY customer_id, _position"""
CAPTURES = """SELECT * FROM (
  SELECT m.*, row_number() OVER (PARTITION BY m.job_id ORDER BY m.id DESC) AS _position
  FROM map_captures m
  WHERE m.organization_id = $1 AND m.customer_id = ANY($2::uuid[])
    AND (m.job_id IS NULL OR EXISTS (
      SELECT 1 FROM jobs cj WHERE cj.organization_id = m.organization_id AND cj.id = m.job_id
        AND cj.organization_id = $1 AND cj.customer_id = ANY($2::uuid[])
        AND cj.status = 'COMPLETED'))
    AND m.job_id = ANY($3::uuid[])) AS t
WHERE _position <= $4 ORDER BY job_id, _position"""
# The map: the external user's visible captures in a box (repository.inside), newest first.
MAP_CAPTURES = """SELECT m.* FROM map_captures m
WHERE m.organization_id = $1 AND m.customer_id = ANY($2::uuid[])
  AND (m.job_id IS NULL OR EXISTS (
    SELECT 1 FROM jobs cj WHERE cj.organization_id = m.organization_id AND cj.id = m.job_id
      AND cj.organization_id = $1 AND cj.customer_id = ANY($2::uuid[])
      AND cj.status = 'COMPLETED'))
  AND m.latitude BETWEEN $3 AND $4 AND m.longitude BETWEEN $5 AND $6
ORDER BY m.id DESC LIMIT $7"""
ASSETS = """SELECT * FROM (
  SELECT a.*, ja.job_id, row_number() OVER (PARTITION BY ja.job_id ORDER BY a.id DESC)
         AS _position
  FROM assets a JOIN job_assets ja ON ja.organization_id = a.organization_id
                                  AND ja.asset_id = a.id
  WHERE a.organization_id = $1 AND a.customer_id = ANY($2::uuid[])
    AND EXISTS (SELECT 1 FROM job_assets l
                JOIN jobs aj ON aj.organization_id = l.organization_id AND aj.id = l.job_id
                WHERE l.organization_id = a.organization_id AND l.asset_id = a.id
                  AND aj.organization_id = $1 AND aj.customer_id = ANY($2::uuid[])
                  AND aj.status = 'COMPLETED')
    AND ja.job_id = ANY($3::uuid[])) AS t
WHERE _position <= $4 ORDER BY job_id, _position"""

# Staff scope: $1 organization.
JOB_BY_ID = "SELECT * FROM jobs WHERE organization_id = $1 AND id = ANY($2::uuid[])"
CUSTOMER_BY_ID = "SELECT * FROM customers WHERE organization_id = $1 AND id = ANY($2::uuid[])"
# The server's search (external_users/repository.py): persons by name or email through their
# trigram indexes, each looked up in the organization's memberships, and the members of the
# customers found by name; $2 is the LIKE pattern (escaped with '/').
SEARCH = """SELECT matching.* FROM (
  SELECT membership.*, p.email, p.email_normalized, p.name
  FROM persons p
  JOIN LATERAL (SELECT * FROM external_users eu
                WHERE eu.organization_id = $1 AND eu.person_id = p.id LIMIT 1) AS membership
    ON true
  WHERE lower(p.name) LIKE $2 ESCAPE '/' OR p.email_normalized LIKE $2 ESCAPE '/'
  UNION
  SELECT eu.*, p.email, p.email_normalized, p.name
  FROM external_users eu JOIN persons p ON p.id = eu.person_id
  WHERE eu.organization_id = $1 AND eu.id IN (
    SELECT g.external_user_id FROM customer_grants g
    JOIN customers c ON c.organization_id = g.organization_id AND c.id = g.customer_id
    WHERE g.organization_id = $1 AND lower(c.name) LIKE $2 ESCAPE '/')
) AS matching
ORDER BY matching.email_normalized, matching.id LIMIT $3"""
CUSTOMERS_OF_USERS = """SELECT c.*, g.external_user_id FROM customers c
JOIN customer_grants g ON g.organization_id = c.organization_id AND g.customer_id = c.id
WHERE c.organization_id = $1 AND g.organization_id = $1
  AND g.external_user_id = ANY($2::uuid[]) ORDER BY c.name, c.id"""

# Invite and accept: the writes the service makes (rate limit, checks, invitation, outbox,
# audit; then the single-winner UPDATE, person, membership, grants, audit, session).
RATE_HIT = """INSERT INTO rate_limit_counters (key, window_start, hits)
VALUES ($1, date_bin(make_interval(secs => $2), now(), TIMESTAMPTZ '2000-01-01 00:00:00+00'), 1)
ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limit_counters.hits + 1
RETURNING hits"""
PERSON_BY_EMAIL = "SELECT * FROM persons WHERE email_normalized = $1"
PENDING_BY_EMAIL = """SELECT * FROM invitations WHERE organization_id = $1
AND email_normalized = $2 AND state = 'PENDING' FOR UPDATE"""
INSERT_INVITATION = """INSERT INTO invitations (organization_id, id, email, email_normalized,
  name, state, token_hash, expires_at, invited_by_id)
VALUES ($1, $2, $3, $4, $5, 'PENDING', $6,
        now() + make_interval(days => (SELECT invitation_ttl_days FROM organizations
                                        WHERE id = $1)), $7)
RETURNING *"""
INSERT_INVITATION_CUSTOMERS = """INSERT INTO invitation_customers
  (organization_id, invitation_id, customer_id)
SELECT $1, $2, unnest($3::uuid[]) ON CONFLICT DO NOTHING"""
ORGANIZATION = "SELECT * FROM organizations WHERE id = $1"
INVITATION_CUSTOMERS = """SELECT c.*, ic.invitation_id FROM customers c
JOIN invitation_customers ic ON ic.organization_id = c.organization_id AND ic.customer_id = c.id
WHERE c.organization_id = $1 AND ic.invitation_id = $2 ORDER BY c.name, c.id"""
DROP_QUEUED = """DELETE FROM email_outbox WHERE organization_id = $1 AND id IN (
  SELECT id FROM email_outbox WHERE organization_id = $1 AND invitation_id = $2
    AND status = 'QUEUED' FOR UPDATE SKIP LOCKED)"""
QUEUE_EMAIL = """INSERT INTO email_outbox (organization_id, id, invitation_id, template,
  to_address, params, secret_ciphertext, status, attempts, next_attempt_at)
VALUES ($1, $2, $3, 'invite', $4, $5::jsonb, $6, 'QUEUED', 0, now()) RETURNING id"""
AUDIT = """INSERT INTO audit_events (organization_id, id, action, actor_person_id,
  target_person_id, target_email, invitation_id, customer_ids, client_address, details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid[], $9::inet, '{}'::jsonb)"""
INVITATION_BY_DIGEST = "SELECT * FROM invitations WHERE token_hash = $1"
ACCEPT = """UPDATE invitations SET state = 'ACCEPTED', accepted_at = now()
WHERE organization_id = $1 AND id = $2 AND token_hash = $3 AND state = 'PENDING'
  AND expires_at > now() RETURNING *"""
INSERT_PERSON = """INSERT INTO persons (id, email, email_normalized, name, password_hash)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email_normalized) DO NOTHING RETURNING id"""
SET_ACCEPTED_PERSON = """UPDATE invitations SET accepted_person_id = $3
WHERE organization_id = $1 AND id = $2"""
JOIN_MEMBERSHIP = """INSERT INTO external_users (organization_id, id, person_id, invited_at,
  last_seen_at) VALUES ($1, $2, $3, $4, now())
ON CONFLICT (organization_id, person_id) DO UPDATE SET access_revoked_at = NULL,
  last_seen_at = now() RETURNING id"""
GRANT = """INSERT INTO customer_grants (organization_id, external_user_id, customer_id)
SELECT $1, $2, unnest($3::uuid[]) ON CONFLICT DO NOTHING"""
START_SESSION = """INSERT INTO sessions (organization_id, id, person_id, token_hash, expires_at,
  client_address) VALUES ($1, $2, $3, $4, now() + interval '14 days', $5::inet)"""
MEMBERSHIPS = """SELECT o.id, o.name, sm.role::text FROM organizations o
JOIN staff_members sm ON sm.organization_id = o.id WHERE sm.person_id = $1
UNION ALL SELECT o.id, o.name, NULL FROM organizations o
JOIN external_users eu ON eu.organization_id = o.id AND eu.access_revoked_at IS NULL
WHERE eu.person_id = $1"""


def _global_id(type_name: str, id_: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{id_}".encode()).decode().rstrip("=")


def _from_global_id(global_id: str) -> uuid.UUID | None:
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
        return uuid.UUID(raw.partition(":")[2])
    except ValueError:
        return None


class Counted:
    """A connection that counts its statements."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.statements = 0

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        self.statements += 1
        return await self.conn.fetch(sql, *args)  # type: ignore[no-any-return]

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        self.statements += 1
        return await self.conn.fetchrow(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        self.statements += 1
        return await self.conn.execute(sql, *args)  # type: ignore[no-any-return]


Handler = Callable[[Counted, dict[str, Any], asyncpg.Record | None, Request], Awaitable[Any]]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def _portal(db: Counted, body: dict[str, Any], viewer: asyncpg.Record | None,
                  request: Request) -> Any:
    if viewer is None:
        return None
    org, grants, first = viewer["organization_id"], viewer["grants"], int(body["jobs"])
    customers = (await db.fetch(CUSTOMERS, org, grants, 51))[:50]
    customer_ids = [c["id"] for c in customers]
    jobs_of: dict[uuid.UUID, list[asyncpg.Record]] = {c: [] for c in customer_ids}
    for job in await db.fetch(JOBS, org, grants, customer_ids, first + 1):
        jobs_of[job["customer_id"]].append(job)
    job_ids = [job["id"] for c in customer_ids for job in jobs_of[c][:first]]
    captures_of: dict[uuid.UUID, list[asyncpg.Record]] = {j: [] for j in job_ids}
    for capture in await db.fetch(CAPTURES, org, grants, job_ids, 11):
        captures_of[capture["job_id"]].append(capture)
    assets_of: dict[uuid.UUID, list[asyncpg.Record]] = {j: [] for j in job_ids}
    for asset in await db.fetch(ASSETS, org, grants, job_ids, 11):
        assets_of[asset["job_id"]].append(asset)
    return {"customers": {"edges": [{"node": {"name": c["name"], "jobs": {"edges": [
        {"node": {"reference": j["reference"], "title": j["title"],
                  "completedAt": _iso(j["completed_at"]),
                  "mapCaptures": {"edges": [
                      {"node": {"latitude": m["latitude"], "longitude": m["longitude"],
                                "note": m["note"]}} for m in captures_of[j["id"]][:10]]},
                  "assets": {"edges": [{"node": {"name": a["name"], "kind": a["kind"]}}
                                       for a in assets_of[j["id"]][:10]]}}}
        for j in jobs_of[c["id"]][:first]]}}} for c in customers]}}


async def _node(db: Counted, body: dict[str, Any], viewer: asyncpg.Record | None,
                request: Request) -> Any:
    job_id = _from_global_id(body["id"])
    if viewer is None or job_id is None:
        return {"node": None}
    org = viewer["organization_id"]
    job = await db.fetchrow(JOB_BY_ID, org, [job_id])
    if job is None:
        return {"node": None}
    customer = await db.fetchrow(CUSTOMER_BY_ID, org, [job["customer_id"]])
    return {"node": {"id": _global_id("Job", job["id"]), "reference": job["reference"],
                     "title": job["title"], "status": job["status"],
                     "completedAt": _iso(job["completed_at"]),
                     "customer": {"name": customer["name"]} if customer else None}}


async def _map(db: Counted, body: dict[str, Any], viewer: asyncpg.Record | None,
               request: Request) -> Any:
    if viewer is None:
        return None
    box = body["within"]
    rows = (await db.fetch(MAP_CAPTURES, viewer["organization_id"], viewer["grants"],
                           box["south"], box["north"], box["west"], box["east"], 101))[:100]
    features = [{
        "type": "Feature", "id": _global_id("MapCapture", m["id"]),
        "geometry": (orjson.loads(m["geometry"]) if isinstance(m["geometry"], str)
                     else m["geometry"]) or {"type": "Point",
                                             "coordinates": [m["longitude"], m["latitude"]]},
        "properties": {"note": m["note"], "capturedAt": _iso(m["captured_at"]),
                       "latitude": m["latitude"], "longitude": m["longitude"],
                       "customerId": _global_id("Customer", m["customer_id"]),
                       "jobId": _global_id("Job", m["job_id"]) if m["job_id"] else None}}
        for m in rows]
    return {"mapCaptures": {"geoJson": {"type": "FeatureCollection", "features": features}}}


def _like(fragment: str) -> str:
    escaped = fragment.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


async def _search(db: Counted, body: dict[str, Any], viewer: asyncpg.Record | None,
                  request: Request) -> Any:
    if viewer is None:
        return None
    org = viewer["organization_id"]
    users = (await db.fetch(SEARCH, org, _like(str(body["search"]).strip()[:200]), 21))[:20]
    customers_of: dict[uuid.UUID, list[str]] = {u["id"]: [] for u in users}
    for row in await db.fetch(CUSTOMERS_OF_USERS, org, list(customers_of)):
        customers_of[row["external_user_id"]].append(row["name"])
    return {"externalUsers": {"edges": [
        {"node": {"id": _global_id("ExternalUser", u["id"]), "email": u["email"],
                  "name": u["name"], "lastSeenAt": _iso(u["last_seen_at"]),
                  "customers": [{"name": n} for n in customers_of[u["id"]]]}}
        for u in users]}}


async def _invite(db: Counted, body: dict[str, Any], viewer: asyncpg.Record | None,
                  request: Request) -> Any:
    if viewer is None or viewer["role"] != "ADMIN":
        return None
    org = viewer["organization_id"]
    await db.fetchrow(RATE_HIT, f"invite:{org}", 3600)
    customer_ids = [c for c in map(_from_global_id, body["customerIds"]) if c]
    found = await db.fetch(CUSTOMER_BY_ID, org, customer_ids)
    email = str(body["email"]).strip()
    normalized = email.lower()
    await db.fetchrow(PERSON_BY_EMAIL, normalized)
    await db.fetchrow(PENDING_BY_EMAIL, org, normalized)
    token = secrets.token_urlsafe(32)
    invitation = await db.fetchrow(INSERT_INVITATION, org, new_id(), email, normalized,
                                   body.get("name"), token_digest(token), viewer["staff_member_id"])
    assert invitation is not None
    await db.execute(INSERT_INVITATION_CUSTOMERS, org, invitation["id"],
                     [c["id"] for c in found])
    await db.fetchrow(ORGANIZATION, org)
    await db.fetch(INVITATION_CUSTOMERS, org, invitation["id"])
    await db.execute(DROP_QUEUED, org, invitation["id"])
    # The server encrypts the link for the outbox; a random blob of that size stands in.
    await db.fetchrow(QUEUE_EMAIL, org, new_id(), invitation["id"], email,
                      orjson.dumps({"name": body.get("name")}).decode(), os.urandom(120))
    await db.execute(AUDIT, org, new_id(), "INVITATION_SENT", viewer["person_id"], None,
                     email, invitation["id"], customer_ids, _address(request))
    return {"token": token}


async def _accept(db: Counted, body: dict[str, Any], viewer: asyncpg.Record | None,
                  request: Request) -> Any:
    from portal_graph.auth.passwords import hash_password_sync

    await db.fetchrow(RATE_HIT, f"accept:{_address(request)}", 60)
    token = str(body["token"])
    invitation = await db.fetchrow(INVITATION_BY_DIGEST, token_digest(token))
    if invitation is None or not hmac.compare_digest(invitation["token_hash"],
                                                             token_digest(token)):
        return None
    await db.fetchrow(PERSON_BY_EMAIL, invitation["email_normalized"])
    org = invitation["organization_id"]
    won = await db.fetchrow(ACCEPT, org, invitation["id"], invitation["token_hash"])
    if won is None:
        return None
    password_hash = await asyncio.to_thread(hash_password_sync, str(body["password"]))
    person_id = await db.fetchrow(INSERT_PERSON, new_id(), invitation["email"],
                                  invitation["email_normalized"], invitation["name"],
                                  password_hash)
    assert person_id is not None
    await db.execute(SET_ACCEPTED_PERSON, org, invitation["id"], person_id["id"])
    member = await db.fetchrow(JOIN_MEMBERSHIP, org, new_id(), person_id["id"],
                               invitation["created_at"])
    assert member is not None
    customers = await db.fetch(INVITATION_CUSTOMERS, org, invitation["id"])
    await db.execute(GRANT, org, member["id"], [c["id"] for c in customers])
    await db.execute(AUDIT, org, new_id(), "INVITATION_ACCEPTED", person_id["id"],
                     person_id["id"], invitation["email"], invitation["id"],
                     [c["id"] for c in customers], _address(request))
    session_token = "pgs_" + secrets.token_urlsafe(32)
    await db.execute(START_SESSION, org, new_id(), person_id["id"], token_digest(session_token),
                     _address(request))
    await db.fetchrow(ORGANIZATION, org)
    await db.fetch(MEMBERSHIPS, person_id["id"])
    return {"token": session_token}


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def create_app() -> Starlette:
    url = os.environ["BENCH_DATABASE_URL"]
    pool_size = int(os.environ.get("DB_POOL_SIZE", "10"))
    state: dict[str, asyncpg.Pool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(
            url, min_size=1, max_size=pool_size,
            server_settings={"statement_timeout": "5000", "application_name": "bench-floor"})
        try:
            yield
        finally:
            await state["pool"].close()

    def route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            body = orjson.loads(await request.body())
            token = _bearer(request)
            async with state["pool"].acquire() as conn, conn.transaction():
                db = Counted(conn)
                viewer = (await db.fetchrow(VIEWER, token_digest(token), IDLE_MINUTES)
                          if token else None)
                data = await handler(db, body, viewer, request)
            if data is None:
                return Response(orjson.dumps({"errors": [{"message": "refused"}]}),
                                status_code=403, media_type="application/json")
            return Response(orjson.dumps({"data": data}), media_type="application/json",
                            headers={"X-SQL-Statements": str(db.statements)})

        return endpoint

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    routes = [Route(f"/{name}", route(handler), methods=["POST"]) for name, handler in (
        ("portal", _portal), ("node", _node), ("search", _search), ("invite", _invite),
        ("accept", _accept), ("map", _map))]
    routes.append(Route("/healthz", healthz))
    return Starlette(routes=routes, lifespan=lifespan)
