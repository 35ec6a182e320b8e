"""Checks that the data keeps the shape Citus needs to distribute it by organization.

Schema (read from pg_catalog): every tenant table (one with an `organization_id` column) has
`organization_id` in its primary key, in every unique constraint and unique index, and in every
foreign key to another tenant table, on both sides; no global table points into a tenant table.
These are Citus's rules for co-located distributed tables (a unique or foreign key must contain
the distribution column) and for reference tables (they may not reference distributed ones).

Statements (captured from the app's connections, then EXPLAINed as the administrator, so that
row-level security adds nothing): every scan of a tenant table in a statement run for an
organization is restricted by `organization_id`, in its own condition or in the condition of a
join above it that ties it to another table's `organization_id` (a co-located join). Such a
statement is routable to the one shard holding that organization. Statements run in a named
system context (db/tenancy.py: token lookups, sign-in, the outbox worker...) cross
organizations by design; they are reported apart, and docs/SCALING.md says what each becomes.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session, SessionTransaction

from portal_graph.db.tenancy import NOBODY, TENANCY, Tenancy, TenantSession

KEY = "organization_id"

_TABLES = """
SELECT c.relname,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = $2
               AND NOT a.attisdropped) AS tenant
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
"""
# Keys and unique indexes with their column names; foreign keys with both sides' columns.
_KEYS = """
SELECT c.relname AS table_name, k.conname AS name, k.contype::text AS kind,
       ARRAY(SELECT a.attname FROM unnest(k.conkey) AS col(n)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = col.n)::text[]
         AS columns,
       r.relname AS referenced,
       ARRAY(SELECT a.attname FROM unnest(k.confkey) AS col(n)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = col.n)::text[]
         AS referenced_columns
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class r ON r.oid = k.confrelid
WHERE n.nspname = $1 AND k.contype IN ('p', 'u', 'f')
UNION ALL
SELECT c.relname, i.relname, 'i'::text,
       ARRAY(SELECT a.attname FROM unnest(x.indkey::int2[]) AS col(n)
             JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = col.n)::text[],
       NULL, NULL
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND x.indisunique AND NOT x.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
"""


async def tenant_tables(conn: asyncpg.Connection, schema: str = "public") -> set[str]:
    return {row["relname"] for row in await conn.fetch(_TABLES, schema, KEY) if row["tenant"]}


async def schema_violations(conn: asyncpg.Connection, schema: str = "public") -> list[str]:
    """Each way the schema breaks Citus's co-location rules, as a sentence."""
    tenants = await tenant_tables(conn, schema)
    found: list[str] = []
    for row in await conn.fetch(_KEYS, schema):
        table, name, kind, columns = (row["table_name"], row["name"], row["kind"],
                                      list(row["columns"]))
        referenced = row["referenced"]
        if kind in ("p", "u", "i") and table in tenants and KEY not in columns:
            what = {"p": "primary key", "u": "unique constraint", "i": "unique index"}[kind]
            found.append(f"{table}: {what} {name} ({', '.join(columns)}) lacks {KEY}")
        if kind != "f":
            continue
        if table not in tenants and referenced in tenants:
            found.append(f"{table}: foreign key {name} from a global table into tenant table "
                         f"{referenced} (a reference table cannot point into a distributed one)")
        elif table in tenants and referenced in tenants:
            pairs = dict(zip(columns, row["referenced_columns"], strict=True))
            if pairs.get(KEY) != KEY:
                found.append(f"{table}: foreign key {name} ({', '.join(columns)}) to "
                             f"{referenced} does not tie {KEY} to {KEY}")
    return sorted(found)


# --- statements ---------------------------------------------------------------------------


@dataclass
class Statement:
    sql: str
    parameters: tuple[Any, ...]
    tenancy: Tenancy


@dataclass
class StatementLog:
    statements: list[Statement] = field(default_factory=list)

    def add(self, sql: str, parameters: Any, tenancy: Tenancy) -> None:
        self.statements.append(Statement(sql, tuple(parameters or ()), tenancy))


_SESSION = "portal_graph.tests.session"  # connection.info: the session whose transaction runs


@event.listens_for(TenantSession, "after_begin")
def _note_session(session: Session, transaction: SessionTransaction,
                  connection: Connection) -> None:
    connection.info[_SESSION] = weakref.ref(session)


class StatementRecorder:
    """Records every statement the engine's connections run, with whom it acted for."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.log = StatementLog()

    def _before(self, conn: Connection, cursor: Any, statement: str, parameters: Any,
                context: Any, executemany: bool) -> None:
        owner = conn.info.get(_SESSION)
        session = owner() if owner is not None else None
        tenancy = session.info.get(TENANCY, NOBODY) if session is not None else NOBODY
        self.log.add(statement, parameters, tenancy)

    def __enter__(self) -> StatementLog:
        event.listen(self.engine, "before_cursor_execute", self._before)
        return self.log

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)


_OWN_CONDITIONS = ("Index Cond", "Filter", "Recheck Cond", "TID Cond")
_JOIN_CONDITIONS = ("Hash Cond", "Merge Cond", "Join Filter")


def _scans(node: dict[str, Any], above: tuple[str, ...]) -> Iterator[tuple[dict[str, Any], str]]:
    """Each table scan of a plan with every condition that restricts it: its own (and its
    bitmap index scans') and those of the joins above it."""
    joins = above + tuple(str(node[k]) for k in _JOIN_CONDITIONS if k in node)
    children = node.get("Plans", [])
    if "Relation Name" in node and node.get("Node Type") != "ModifyTable":
        own = [str(node[k]) for k in _OWN_CONDITIONS if k in node]
        own += [str(c.get("Index Cond", "")) for c in children
                if c.get("Node Type") in ("Bitmap Index Scan", "BitmapAnd", "BitmapOr")]
        own += [str(g.get("Index Cond", "")) for c in children
                if c.get("Node Type") in ("BitmapAnd", "BitmapOr") for g in c.get("Plans", [])]
        yield node, " AND ".join(own + list(joins))
    for child in children:
        # An InitPlan or SubPlan is a statement of its own: the joins above don't bind it.
        kind = child.get("Parent Relationship")
        yield from _scans(child, () if kind in ("InitPlan", "SubPlan") else joins)


async def tenant_scans(conn: asyncpg.Connection, statement: Statement,
                       tenants: set[str]) -> tuple[int, list[str]]:
    """How many scans (and inserts) of tenant tables the statement's plan has, and those among
    them not restricted to one organization."""
    sql = statement.sql.strip()
    if not sql.upper().startswith(("SELECT", "WITH", "INSERT", "UPDATE", "DELETE")):
        return 0, []
    plan = json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON, COSTS OFF) {sql}",
                                          *statement.parameters))[0]["Plan"]
    seen, missing = 0, []
    for scan, conditions in _scans(plan, ()):
        if scan["Relation Name"] in tenants:
            seen += 1
            if KEY not in conditions:
                missing.append(f"{scan['Node Type']} on {scan['Relation Name']}")
    if plan.get("Node Type") == "ModifyTable" and plan.get("Operation") == "Insert" \
            and plan.get("Relation Name") in tenants:
        seen += 1
        if KEY not in sql:
            missing.append(f"Insert into {plan['Relation Name']} without {KEY}")
    return seen, missing


async def unrouted_scans(conn: asyncpg.Connection, statement: Statement,
                         tenants: set[str]) -> list[str]:
    """The tenant tables this statement scans without restricting them to one organization."""
    return (await tenant_scans(conn, statement, tenants))[1]


@dataclass
class Routing:
    unrouted: list[tuple[str, list[str]]]  # (statement, scans) run for an organization
    cross_organization: dict[str, int]  # system context -> statements on tenant tables
    routed: int = 0  # statements on tenant tables run for an organization, all restricted


async def routing(conn: asyncpg.Connection, log: StatementLog, tenants: set[str]) -> Routing:
    result = Routing([], {})
    for statement in log.statements:
        seen, missing = await tenant_scans(conn, statement, tenants)
        if seen and not missing and statement.tenancy.system is None:
            result.routed += 1
        if not missing:
            continue
        system = statement.tenancy.system
        if system is not None:
            result.cross_organization[system.value] = \
                result.cross_organization.get(system.value, 0) + 1
        else:
            result.unrouted.append((" ".join(statement.sql.split())[:300], missing))
    return result
