"""The policies exist on every tenant table, requests run as a role they bind, and what a
transaction acts for never outlives it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_graph.auth.service import resolve_viewer
from portal_graph.config import Settings
from portal_graph.db.migrate import upgrade
from portal_graph.db.request_role import RequestRoleError
from tests.tenancy.conftest import Deployment, in_a_thread

# Every table with an organization_id (and organizations, keyed by its own id), with whether
# row-level security is enabled and forced and the policies that name the tenant setting.
COVERAGE = text("""
    SELECT c.relname AS table_name, c.relrowsecurity AS enabled,
           c.relforcerowsecurity AS forced,
           count(p.polname) FILTER (
             WHERE pg_get_expr(p.polqual, p.polrelid) LIKE '%app.organization_id%'
               AND pg_get_expr(p.polwithcheck, p.polrelid) LIKE '%app.organization_id%'
           ) AS policies
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
    LEFT JOIN pg_policy p ON p.polrelid = c.oid
    WHERE c.relkind IN ('r', 'p')
      AND (c.relname = 'organizations' OR EXISTS (
            SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
               AND a.attname = 'organization_id' AND NOT a.attisdropped))
    GROUP BY c.relname, c.relrowsecurity, c.relforcerowsecurity
    ORDER BY c.relname
""")


async def unguarded_tenant_tables(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(COVERAGE)).all()
    assert len(rows) > 10, rows  # the check found the tenant tables at all
    return [row.table_name for row in rows
            if not (row.enabled and row.forced and row.policies >= 1)]


async def test_every_table_with_an_organization_id_has_forced_row_level_security(engine):
    assert await unguarded_tenant_tables(engine) == []


async def test_a_tenant_table_added_without_a_policy_is_found(engine):
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE forgot_its_policy (organization_id uuid)"))
    try:
        assert await unguarded_tenant_tables(engine) == ["forgot_its_policy"]
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE forgot_its_policy"))


WHO = text("""SELECT current_user AS role, session_user AS login, r.rolsuper, r.rolbypassrls,
                      row_security_active('customers') AS bound
               FROM pg_roles r WHERE r.rolname = current_user""")


async def test_requests_run_as_a_role_that_row_level_security_binds(deployment: Deployment):
    # The very sessions the endpoint opens for each request.
    async with deployment.runtime.sessionmaker() as session, session.begin():
        who = (await session.execute(WHO)).one()

    assert (who.rolsuper, who.rolbypassrls, who.bound) == (False, False, True)
    if deployment.setup == "owner":
        assert who.role == who.login  # the database's owner itself, bound by FORCE
    else:
        assert (who.role, who.login) == ("portal_graph_request", "postgres")


async def test_the_rate_limit_connection_too_runs_as_a_bound_role(deployment: Deployment):
    sessionmaker = deployment.runtime.rate_limiter._sessionmaker
    async with sessionmaker() as session, session.begin():
        who = (await session.execute(WHO)).one()

    assert (who.rolsuper, who.rolbypassrls) == (False, False)


async def test_a_transaction_that_says_nothing_sees_no_tenant_row(deployment: Deployment):
    await deployment.organization("Someone")
    async with deployment.runtime.sessionmaker() as session, session.begin():
        counts = (await session.execute(text(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM organizations), "
            "(SELECT count(*) FROM sessions)"))).one()

    assert tuple(counts) == (0, 0, 0)


async def test_the_organization_a_request_acted_for_is_gone_from_its_pooled_connection(
        settings: Settings, deployment: Deployment) -> None:
    from portal_graph.runtime import Runtime

    org = await deployment.organization("Pooled")
    one_connection = settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0})
    runtime = Runtime.create(one_connection, deployment.runtime.settings.database_url)
    try:
        async with runtime.sessionmaker() as session, session.begin():
            viewer = await resolve_viewer(session, org.admin_token, settings)
            during = await _tenant_state(session)
        async with runtime.sessionmaker() as session, session.begin():
            after = await _tenant_state(session)
    finally:
        await runtime.close()

    assert viewer.organization_id == org.id
    assert during == (str(org.id), "", 1)
    assert after[1:] == ("", 0) and after[0] in ("", None)


async def _tenant_state(session: Any) -> tuple[Any, ...]:
    row = (await session.execute(text(
        "SELECT current_setting('app.organization_id', true), "
        "current_setting('app.system_context', true), (SELECT count(*) FROM customers)"))).one()
    return tuple(row)


async def test_a_request_role_that_bypasses_row_level_security_is_refused(engine, test_database):
    role = f"portal_graph_bypassing_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN BYPASSRLS'))
    try:
        with pytest.raises(RequestRoleError, match="bypasses row-level security"):
            in_a_thread(upgrade, test_database.admin_url, role)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP ROLE "{role}"'))
