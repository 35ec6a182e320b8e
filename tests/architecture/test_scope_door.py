"""`Scope` is the only door to tenant rows, and the source says so: no repository function takes
a raw organization id, no `Scope(` is built outside scope.py, no SQL is written outside the
repositories, `db/` and the scope layer, but where listed below with the reason; a repository
function listed with a system context checks, each time it is called, that its session is in
that context (`@runs_in`). A new exception is a new line here, in review (the checker:
scope_door.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal_graph.db.tenancy import SystemContext
from tests.architecture.scope_door import (
    Violation,
    check_tree,
    unchecked_contexts,
    unexplained,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "portal_graph"

# "module:function" -> why it takes an organization id rather than a Scope.
ORGANIZATION_ID_ALLOWED = {
    "auth/repository.py:create_session": (
        "signing in (the SIGN_IN system context): the session is what a Scope is later made from, "
        "for an organization the person was just checked to belong to"),
    "auth/repository.py:record_write": (
        "after the request committed: the WAL position on the request's own credential, in the "
        "organization the viewer lookup entered (read replicas compare it)"),
    "webhooks/repository.py:owner_grants": (
        "the webhook worker (SystemContext.WEBHOOKS): a delivery's organization, from its row"),
    "webhooks/repository.py:endpoint_succeeded": (
        "the webhook worker (SystemContext.WEBHOOKS): a delivery's organization, from its row"),
    "webhooks/repository.py:endpoint_failed": (
        "the webhook worker (SystemContext.WEBHOOKS): a delivery's organization, from its row"),
    "webhooks/repository.py:admin_emails": (
        "the webhook worker (SystemContext.WEBHOOKS): a delivery's organization, from its row"),
}
# "module:function" -> the system context it runs in (several: a tuple; None: it reads or writes
# no tenant row) and why it takes no Scope: the one list of the repository functions without
# one. A function listed with a context carries `@runs_in(...)` with exactly it (db/tenancy.py),
# so that a call from a session in another context (a request's) raises OutsideSystemContext.
UNSCOPED_ALLOWED: dict[str, tuple[SystemContext | tuple[SystemContext, ...] | None, str]] = {
    "accounts/repository.py:organization_of_staff_email": (
        SystemContext.CLI, "seeding the demo: is it there already, in whichever organization"),
    "accounts/repository.py:insert_organization": (
        SystemContext.CLI, "a new organization: there is no Scope before it exists"),
    "auth/repository.py:credential_by_digest": (
        SystemContext.VIEWER_LOOKUP, "a bearer token -> its credential, before a Scope (it "
        "enters the context itself, for its one statement, which leaves it)"),
    "auth/repository.py:touch": (
        None, "the credential's own rows, in the organization credential_by_digest entered"),
    "auth/repository.py:person_by_email": (None, "persons are no tenant rows"),
    "auth/repository.py:memberships": (
        (SystemContext.SIGN_IN, SystemContext.MEMBERSHIPS, SystemContext.ACCOUNT),
        "a person's organizations: to sign in, for `me`, for the account's own changes"),
    "auth/repository.py:create_session": (
        SystemContext.SIGN_IN, "the session a Scope is later made from (or, acting for its own "
        "organization, an accepted invitation's: `or_acting_for`)"),
    "auth/repository.py:record_write": (
        None, "the request's own credential, after its commit (see ORGANIZATION_ID_ALLOWED)"),
    "auth/repository.py:delete_dead_sessions": (
        SystemContext.HOUSEKEEPING, "every organization's dead sessions"),
    "auth/repository.py:delete_dead_api_tokens": (
        SystemContext.HOUSEKEEPING, "every organization's dead API tokens"),
    "events/repository.py:notify": (None, "pg_notify: no table"),
    "events/repository.py:delete_told": (
        SystemContext.HOUSEKEEPING, "every organization's events, told days ago"),
    "invitations/repository.py:by_digest": (
        SystemContext.INVITATION_TOKEN, "the invitation a link's token names"),
    "mail/repository.py:queue_depth": (SystemContext.METRICS, "the outbox of all, counted"),
    "mail/repository.py:claim_due": (SystemContext.OUTBOX, "due emails of every organization"),
    "mail/repository.py:renew": (SystemContext.OUTBOX, "the worker's own lease"),
    "mail/repository.py:release": (SystemContext.OUTBOX, "the worker's own lease"),
    "mail/repository.py:mark_sent": (SystemContext.OUTBOX, "an email the worker leased"),
    "mail/repository.py:mark_failed": (SystemContext.OUTBOX, "an email the worker leased"),
    "webhooks/repository.py:queue": (
        None, "inside the publishing transaction, which acts for the event's organization"),
    "webhooks/repository.py:claim_due": (
        SystemContext.WEBHOOKS, "due deliveries of every organization"),
    "webhooks/repository.py:endpoints_by_id": (
        SystemContext.WEBHOOKS, "the endpoints of deliveries the worker leased"),
    "webhooks/repository.py:owner_grants": (
        SystemContext.WEBHOOKS, "an external owner's grants, checked again before sending"),
    "webhooks/repository.py:record": (SystemContext.WEBHOOKS, "a delivery the worker leased"),
    "webhooks/repository.py:endpoint_succeeded": (
        SystemContext.WEBHOOKS, "the endpoint of a delivery the worker leased"),
    "webhooks/repository.py:endpoint_failed": (
        SystemContext.WEBHOOKS, "the endpoint of a delivery the worker leased"),
    "webhooks/repository.py:admin_emails": (
        SystemContext.WEBHOOKS, "whom to tell of an endpoint disabled after a day of failures"),
    "webhooks/repository.py:delete_settled": (
        SystemContext.HOUSEKEEPING, "every organization's deliveries settled a month ago"),
}
# module -> why it writes SQL outside a repository.
SQL_ALLOWED = {
    "accounts/persons.py": (
        "persons and their reset links: login identities that no organization owns (not "
        "tenant rows); the one module that writes them"),
    "auth/revocation.py": (
        "ending credentials in SystemContext.CREDENTIALS: one recursive statement per case, "
        "across the organizations a person's sessions were minted in"),
    "replicas.py": (
        "WAL positions of the primary and the replicas (pg_current_wal_lsn, "
        "pg_last_wal_replay_lsn): no table read"),
    "ratelimit.py": (
        "rate_limit_counters is no tenant table (HMAC'd keys, no organization column), "
        "written on the limiter's own engine in its own short transactions"),
    "cost_buckets.py": (
        "cost_buckets is no tenant table (keyed by a credential's id or an HMAC'd address, no "
        "organization column), written on the limiter's own engine, one statement each"),
    "trusted_documents.py": (
        "trusted_documents is no tenant table (GraphQL documents by SHA-256, the same for "
        "every organization, no organization column)"),
    "scale.py": (
        "seed-scale, a system tool: COPY of a benchmark organization's rows over a raw asyncpg "
        "connection, every transaction in SystemContext.CLI (scale_rows.py makes the rows)"),
    "http/health.py": "the readiness probe's `SELECT 1` on a connection of its own: no table",
    "events/hub.py": "the LISTEN connection's keep-alive `SELECT 1`: no table",
}


def test_no_door_to_tenant_rows_but_the_scope():
    assert unexplained(check_tree(SRC), ORGANIZATION_ID_ALLOWED, SQL_ALLOWED,
                       UNSCOPED_ALLOWED) == []


def test_each_function_of_a_system_context_checks_it_when_called():
    assert unchecked_contexts(SRC, UNSCOPED_ALLOWED) == []


def test_every_allowed_exception_is_still_needed():
    found = check_tree(SRC)
    passing = {f"{v.module}:{v.name}" for v in found if v.rule == "organization_id"}
    unscoped = {f"{v.module}:{v.name}" for v in found if v.rule == "unscoped"}
    modules = {v.module for v in found if v.rule == "sql"}
    assert set(ORGANIZATION_ID_ALLOWED) <= passing
    assert set(UNSCOPED_ALLOWED) == unscoped
    assert set(SQL_ALLOWED) <= modules


# --- the checker finds what is planted ----------------------------------------------------

CLEAN_REPOSITORY = '''
from sqlalchemy import select
from portal_graph.scope import Scope, visible


async def by_id(session, scope: Scope, customer_id):
    return await session.execute(select(customers).where(visible(scope, customers)))


def _private(organization_id):  # private helpers are the repository's own business
    return organization_id
'''

PLANTED = {
    "customers/repository.py": (
        "async def by_organization(scope, organization_id):\n    return organization_id\n",
        Violation("customers/repository.py", 1, "organization_id", "by_organization")),
    "work/repository.py": (
        "async def every_job(session, status):\n    return status\n",
        Violation("work/repository.py", 1, "unscoped", "every_job")),
    "work/service.py": (
        "from portal_graph.scope import Scope\n\n"
        "def sneak(org):\n    return Scope(org, external=False, customer_ids=frozenset())\n",
        Violation("work/service.py", 4, "Scope(", "Scope")),
    "work/loaders.py": (
        "from portal_graph import scope\n\n"
        "def sneak(org):\n    return scope.Scope(org, False, frozenset())\n",
        Violation("work/loaders.py", 4, "Scope(", "Scope")),
    "invitations/service.py": (
        "from sqlalchemy import text as sql\n\nQUERY = sql('SELECT 1')\n",
        Violation("invitations/service.py", 3, "sql", "sql")),
    "audit/service.py": (
        "import sqlalchemy as sa\n\ndef rows():\n    return sa.select(1)\n",
        Violation("audit/service.py", 4, "sql", "select")),
    "maintenance.py": (
        "from sqlalchemy.dialects.postgresql import insert\n\nSTATEMENT = insert(t)\n",
        Violation("maintenance.py", 3, "sql", "insert")),
    # SQL sent as a string over a raw asyncpg connection, or rows COPYed, outside the listed
    "seeding.py": (
        "async def seed(conn):\n    return await conn.fetchval('SELECT id FROM jobs')\n",
        Violation("seeding.py", 2, "sql", "fetchval")),
    "reports.py": (
        "async def rows(conn, table):\n    return await conn.fetch(f'SELECT * FROM {table}')\n",
        Violation("reports.py", 2, "sql", "fetch")),
    "work/export.py": (
        "QUERY = 'SELECT * FROM ' + 'jobs'\n\n"
        "async def rows(pool):\n    return await pool.execute(QUERY, timeout=5)\n",
        Violation("work/export.py", 4, "sql", "execute")),
    "customers/importer.py": (
        "async def load(conn, rows):\n"
        "    await conn.copy_records_to_table(TABLE, records=rows)\n",
        Violation("customers/importer.py", 2, "sql", "copy_records_to_table")),
    "audit/export.py": (
        "async def dump(connection):\n"
        "    return await connection.exec_driver_sql('SELECT * FROM {}'.format('audit'))\n",
        Violation("audit/export.py", 2, "sql", "exec_driver_sql")),
}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for module, source in files.items():
        path = root / module
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


def test_a_clean_tree_has_no_violation(tmp_path: Path):
    root = _tree(tmp_path, {
        "customers/repository.py": CLEAN_REPOSITORY,
        "scope.py": "def admin_scope(o):\n    return Scope(o, False, frozenset())\n",
        "db/engine.py": "from sqlalchemy import text\n\nPING = text('SELECT 1')\n",
        "work/service.py": "def add(items, x):\n    items.update(x)\n    items.insert(0, x)\n",
        # a statement built by a repository and sent by its name is no string in the source
        "work/worker.py": ("async def run(session, statement, jobs):\n"
                           "    await session.execute(statement)\n    await jobs.fetch()\n"),
        "db/probe.py": "async def ping(conn):\n    await conn.fetchval('SELECT 1')\n",
    })

    assert check_tree(root) == []


@pytest.mark.parametrize("module", sorted(PLANTED))
def test_each_planted_violation_is_reported(tmp_path: Path, module: str):
    source, expected = PLANTED[module]
    root = _tree(tmp_path, {"customers/repository.py": CLEAN_REPOSITORY, module: source})

    found = check_tree(root)

    assert found == [expected]
    assert unexplained(found, ORGANIZATION_ID_ALLOWED, SQL_ALLOWED,
                       UNSCOPED_ALLOWED) == [expected]


def test_an_allow_list_entry_explains_only_its_own_violation(tmp_path: Path):
    source, expected = PLANTED["customers/repository.py"]
    root = _tree(tmp_path, {"customers/repository.py": source})

    assert unexplained(check_tree(root), {"customers/repository.py:by_organization": "why"},
                       {}) == []
    assert unexplained(check_tree(root), {"customers/repository.py:other": "why"},
                       {"customers/repository.py": "why"}) == [expected]


# --- a system context's functions check it when called (@runs_in) -------------------------

OUTBOX_ONLY = {"mail/repository.py:claim_due": (SystemContext.OUTBOX, "due emails")}
SYSTEM_REPOSITORIES = {
    "checked": (
        "@runs_in(SystemContext.OUTBOX)\nasync def claim_due(session, batch):\n    return batch\n",
        None),
    "enters it itself": (
        "async def claim_due(session, batch):\n"
        "    await session.set_tenancy(Tenancy(system=SystemContext.OUTBOX))\n",
        None),
    "unchecked": (
        "async def claim_due(session, batch):\n    return batch\n",
        Violation("mail/repository.py", 1, "runs_in", "claim_due")),
    "checked for another context": (
        "@runs_in(SystemContext.WEBHOOKS)\nasync def claim_due(session, batch):\n    return 1\n",
        Violation("mail/repository.py", 2, "runs_in", "claim_due")),
    "checked for one context too many": (
        "@tenancy.runs_in(SystemContext.OUTBOX, SystemContext.CLI)\n"
        "async def claim_due(session, batch):\n    return 1\n",
        Violation("mail/repository.py", 2, "runs_in", "claim_due")),
    "checked but listed as touching no tenant row": (
        "@runs_in(SystemContext.OUTBOX)\nasync def queue_depth(session):\n    return 0\n",
        Violation("mail/repository.py", 2, "runs_in", "queue_depth")),
}


@pytest.mark.parametrize("case", sorted(SYSTEM_REPOSITORIES))
def test_a_system_context_function_without_its_check_is_reported(tmp_path: Path, case: str):
    source, expected = SYSTEM_REPOSITORIES[case]
    root = _tree(tmp_path, {"mail/repository.py": source})
    listed = {**OUTBOX_ONLY, "mail/repository.py:queue_depth": (None, "no tenant row")}

    assert unchecked_contexts(root, listed) == ([] if expected is None else [expected])
