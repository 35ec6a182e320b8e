"""`portal-graph seed-scale`: a large, realistic organization for benchmarks (its rows are
scale_rows.py's), loaded with COPY in one transaction over a raw asyncpg connection.

`seed_scale` is idempotent: the organization's name records its sizes, and it is written in a
single transaction, so an organization of that name is always complete and is reused as is.
Other sizes make another organization beside it (a quick dataset next to the full one).

Seeding crosses organizations, so every transaction here runs in the CLI system context
(db/tenancy.py). Where row-level security binds the connecting role (a plain role owning its
database), PostgreSQL refuses COPY into the tables; rows are then copied into a temporary
table and inserted from there. This is the one module outside the repositories that sends SQL
over asyncpg (tests/architecture/test_scope_door.py lists it).
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from tqdm import tqdm

from portal_graph.auth.tokens import SESSION_PREFIX, new_token, token_digest
from portal_graph.db.tenancy import SystemContext
from portal_graph.scale_rows import (
    ADMIN_PASSWORD,
    CLIENT_PASSWORD,
    QUICK,
    TABLE_COLUMNS,
    Ids,
    Sizes,
    organization_rows,
)

__all__ = ["QUICK", "ScaleOrganization", "Sizes", "mint_session", "search_fragment",
           "seed_scale"]

CHUNK = 20_000


@dataclass(frozen=True)
class ScaleOrganization:
    organization_id: uuid.UUID
    created: bool
    sizes: Sizes
    admin_email: str
    admin_password: str
    client_email: str
    client_password: str
    client_emails: list[str]
    # The client's customers: the largest ones, so that 5 x 100 completed jobs exist.
    client_customer_ids: list[uuid.UUID]
    search_fragment: str


SEEDING = f"SELECT set_config('app.system_context', '{SystemContext.CLI.value}', true)"


class _Copier:
    def __init__(self, conn: asyncpg.Connection, progress: tqdm, *, staged: bool) -> None:
        self.conn = conn
        self.progress = progress
        self.staged = staged  # COPY into a temporary table, INSERT from it (RLS is active)

    async def copy(self, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
        self.progress.set_postfix_str(table)
        chunk: list[tuple[Any, ...]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= CHUNK:
                await self._flush(table, chunk)
                chunk = []
        if chunk:
            await self._flush(table, chunk)

    async def _flush(self, table: str, chunk: list[tuple[Any, ...]]) -> None:
        columns = list(TABLE_COLUMNS[table])
        if not self.staged:
            await self.conn.copy_records_to_table(table, records=chunk, columns=columns)
        else:
            stage = f"stage_{table}"
            await self.conn.execute(f'CREATE TEMPORARY TABLE IF NOT EXISTS "{stage}" '
                                    f'(LIKE "{table}") ON COMMIT DROP')
            await self.conn.copy_records_to_table(stage, records=chunk, columns=columns)
            names = ", ".join(f'"{column}"' for column in columns)
            await self.conn.execute(f'INSERT INTO "{table}" ({names}) '
                                    f'SELECT {names} FROM "{stage}"; TRUNCATE "{stage}"')
        self.progress.update(len(chunk))


def plain_url(url: str) -> str:
    """asyncpg wants postgresql://, not SQLAlchemy's postgresql+asyncpg://."""
    return re.sub(r"^postgres(ql)?(\+asyncpg)?://", "postgresql://", url)


async def _existing(conn: asyncpg.Connection, sizes: Sizes) -> uuid.UUID | None:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT id FROM organizations WHERE name = $1", sizes.organization_name)


async def _client_customers(conn: asyncpg.Connection, organization_id: uuid.UUID,
                            client_email: str) -> list[uuid.UUID]:
    rows = await conn.fetch(
        """SELECT g.customer_id FROM customer_grants g
           JOIN external_users eu ON eu.organization_id = g.organization_id
                                 AND eu.id = g.external_user_id
           JOIN persons p ON p.id = eu.person_id
           WHERE g.organization_id = $1 AND p.email_normalized = $2
           ORDER BY g.customer_id""", organization_id, client_email)
    return [row[0] for row in rows]


def _result(sizes: Sizes, organization_id: uuid.UUID, created: bool,
            client_customers: list[uuid.UUID]) -> ScaleOrganization:
    return ScaleOrganization(
        organization_id=organization_id, created=created, sizes=sizes,
        admin_email=sizes.admin_email, admin_password=ADMIN_PASSWORD,
        client_email=sizes.client_email, client_password=CLIENT_PASSWORD,
        client_emails=sizes.client_emails,
        client_customer_ids=client_customers, search_fragment=search_fragment())


def search_fragment() -> str:
    """A piece of a surname that some, not all, external users have ("Okafor")."""
    return "okafo"


async def seed_scale(database_url: str, sizes: Sizes = Sizes(), *,
                     show_progress: bool = True) -> ScaleOrganization:
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        async with conn.transaction():
            await conn.execute(SEEDING)
            existing = await _existing(conn, sizes)
            if existing is not None:
                return _result(sizes, existing, False,
                               await _client_customers(conn, existing, sizes.client_email))
        organization_id = await _load(conn, sizes, show_progress)
        for table in TABLE_COLUMNS:
            await conn.execute(f"ANALYZE {table}")
        async with conn.transaction():
            await conn.execute(SEEDING)
            return _result(sizes, organization_id, True,
                           await _client_customers(conn, organization_id, sizes.client_email))
    finally:
        await conn.close()


async def _load(conn: asyncpg.Connection, sizes: Sizes, show_progress: bool) -> uuid.UUID:
    made = organization_rows(sizes)
    with tqdm(total=made.total, unit="rows", unit_scale=True, disable=not show_progress,
              desc="seed-scale") as progress:
        async with conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute(SEEDING)
            staged = bool(await conn.fetchval("SELECT row_security_active('jobs')"))
            copier = _Copier(conn, progress, staged=staged)
            for table, rows in made.tables.items():
                await copier.copy(table, rows)
    return made.organization_id


async def mint_session(database_url: str, organization_id: uuid.UUID, email: str,
                       *, hours: int = 12) -> str:
    """A session token for a person of the organization, straight in the database (benches
    would otherwise trip the login rate limit)."""
    token = new_token(SESSION_PREFIX)
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        async with conn.transaction():
            await conn.execute(SEEDING)
            await conn.execute(
                """INSERT INTO sessions (organization_id, id, person_id, token_hash, expires_at)
                   SELECT $1, $2, p.id, $3, now() + make_interval(hours => $5)
                   FROM persons p WHERE p.email_normalized = $4""",
                organization_id, Ids(random.Random()).at(datetime.now(UTC)),
                token_digest(token), email, hours)
    finally:
        await conn.close()
    return token
