"""Citus-shaped data: the schema co-locates by organization, and every statement a request runs
for an organization is routable to that organization's shard (tests/scaling/citus_shape.py).
Both checkers are shown to catch a planted violation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from portal_graph.db.tenancy import SystemContext, Tenancy
from tests.conftest import Api, RunDatabase
from tests.factories import PASSWORD, Factory
from tests.invitations.support import (
    ACCEPT,
    AUDIT,
    EXTERNAL_USERS,
    INVITATIONS,
    INVITE,
    PREVIEW,
    RESEND,
    REVOKE_ACCESS,
    REVOKE_INVITATION,
    SET_CUSTOMERS,
    gid,
    only,
    token_of,
)
from tests.permissions.paths import ADMIN_LISTS, LISTS
from tests.scaling.citus_shape import (
    Statement,
    StatementLog,
    StatementRecorder,
    routing,
    schema_violations,
    tenant_tables,
    unrouted_scans,
)

# Cross-organization work by design (db/tenancy.py); each is discussed in docs/SCALING.md.
CROSS_ORGANIZATION = {SystemContext.VIEWER_LOOKUP, SystemContext.SIGN_IN,
                      SystemContext.MEMBERSHIPS, SystemContext.INVITATION_TOKEN,
                      SystemContext.CREDENTIALS, SystemContext.ACCOUNT}


@pytest.fixture
async def admin_conn(test_database: RunDatabase) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(test_database.admin_url)
    yield conn
    await conn.close()


# --- the schema ------------------------------------------------------------------------------


async def test_every_key_and_foreign_key_of_a_tenant_table_includes_the_organization(
    admin_conn: asyncpg.Connection,
) -> None:
    tenants = await tenant_tables(admin_conn)
    assert {"jobs", "customers", "sessions", "invitations", "email_outbox"} <= tenants
    assert await schema_violations(admin_conn) == []


async def test_the_schema_check_catches_planted_violations(admin_conn: asyncpg.Connection,
                                                           ) -> None:
    schema = f"planted_{uuid.uuid4().hex[:8]}"
    await admin_conn.execute(f"""
        CREATE SCHEMA {schema};
        CREATE TABLE {schema}.people (id uuid PRIMARY KEY);
        CREATE TABLE {schema}.things (organization_id uuid, id uuid,
            PRIMARY KEY (organization_id, id));
        CREATE TABLE {schema}.bad_key (organization_id uuid, id uuid PRIMARY KEY,
            code text UNIQUE);
        CREATE UNIQUE INDEX bad_index ON {schema}.things (id);
        CREATE TABLE {schema}.bad_link (organization_id uuid, id uuid, thing_org uuid,
            thing_id uuid, PRIMARY KEY (organization_id, id),
            FOREIGN KEY (thing_org, thing_id) REFERENCES {schema}.things);
        CREATE TABLE {schema}.good_link (organization_id uuid, id uuid, thing_id uuid,
            person_id uuid REFERENCES {schema}.people, PRIMARY KEY (organization_id, id),
            FOREIGN KEY (organization_id, thing_id) REFERENCES {schema}.things);
        ALTER TABLE {schema}.people ADD COLUMN thing_org uuid, ADD COLUMN thing_id uuid,
            ADD FOREIGN KEY (thing_org, thing_id) REFERENCES {schema}.things;
    """)
    try:
        found = await schema_violations(admin_conn, schema)
    finally:
        await admin_conn.execute(f"DROP SCHEMA {schema} CASCADE")
    assert len(found) == 5, found
    assert [line.split(":")[0] for line in found] == [
        "bad_key", "bad_key", "bad_link", "people", "things"]
    assert "primary key" in found[0] + found[1] and "unique constraint" in found[0] + found[1]
    assert "unique index bad_index" in found[4]


# --- the statements of the API's requests ---------------------------------------------------


async def run_every_audience(api: Api, make: Factory) -> None:
    """A representative set of documents for each audience, reads and writes."""
    org = await make.organization(name="Routed Grounds")
    admin = await make.staff(org, email="admin@routed.example")
    user = await make.staff(org, role=make_role_user())
    customers = [await make.customer(org, name=f"Routed {n}") for n in range(2)]
    for customer in customers:
        job = await make.job(org, customer)
        await make.capture(org, customer, job_id=job)
        await make.asset(org, customer)
    external = await make.external(org, [customers[0]])
    admin_token = await make.session_token(org, admin["person"]["id"])
    tokens = {"admin": admin_token,
              "user": await make.session_token(org, user["person"]["id"]),
              "external": await make.session_token(org, external["person"]["id"])}

    for audience, token in tokens.items():
        assert "errors" not in await api(LISTS, token=token), audience
        assert "errors" not in await api("{ me { email organization { name } memberships "
                                         "{ organizationName } } }", token=token)
        node = await api("query($id: ID!) { node(id: $id) { id } }",
                         {"id": gid("Customer", customers[0])}, token=token)
        assert "errors" not in node
    for document in (*ADMIN_LISTS, AUDIT, "{ staffMembers { edges { node { id role } } } }",
                     '{ customers(search: "Routed") { totalCount } }'):
        assert "errors" not in await api(document, token=admin_token), document
    users = only(await api(EXTERNAL_USERS, {"search": "example"}, token=admin_token))
    assert "errors" not in await api(INVITATIONS, {"status": "PENDING"}, token=admin_token)

    # The invitation lifecycle, and the changes to an external user's access.
    invited = only(await api(INVITE, {"input": {"email": "new@routed.example",
                                                "customerIds": [gid("Customer", customers[1])]}},
                             token=admin_token))
    resent = only(await api(RESEND, {"id": invited["invitation"]["id"]}, token=admin_token))
    link = token_of(resent["inviteUrl"])
    assert (await api(PREVIEW, {"token": link}))["data"]["invitationPreview"] is not None
    accepted = only(await api(ACCEPT, {"input": {"token": link, "password": PASSWORD,
                                                 "name": "New Person"}}))
    assert accepted["token"], accepted
    assert "errors" not in await api(LISTS, token=accepted["token"])
    other = only(await api(INVITE, {"input": {"email": "other@routed.example",
                                              "customerIds": [gid("Customer", customers[0])]}},
                           token=admin_token))
    only(await api(REVOKE_INVITATION, {"id": other["invitation"]["id"]}, token=admin_token))
    user_id = users["edges"][0]["node"]["id"]
    only(await api(SET_CUSTOMERS, {"user": user_id,
                                   "customers": [gid("Customer", c) for c in customers]},
                   token=admin_token))
    only(await api(REVOKE_ACCESS, {"user": user_id, "customer": gid("Customer", customers[1])},
                   token=admin_token))
    created = await api('mutation { createCustomer(input: {name: "Routed new"}) '
                        "{ customer { id } userErrors { code } } }", token=admin_token)
    assert created["data"]["createCustomer"]["userErrors"] == []
    login = await api('mutation { login(input: {email: "admin@routed.example", '
                      f'password: "{PASSWORD}"}}) {{ token userErrors {{ code }} }} }}')
    assert login["data"]["login"]["token"], login


def make_role_user() -> Any:
    from portal_graph.db.models import Role

    return Role.USER


async def test_every_statement_run_for_an_organization_is_routable_to_its_shard(
    api: Api, make: Factory, runtime: Any, admin_conn: asyncpg.Connection,
) -> None:
    with StatementRecorder(runtime.engine) as log:
        await run_every_audience(api, make)
    tenants = await tenant_tables(admin_conn)
    result = await routing(admin_conn, log, tenants)
    print(f"\n{len(log.statements)} statements, {result.routed} on tenant tables routed to "
          f"one organization; cross-organization by context: {result.cross_organization}")
    assert result.routed > 100  # the check is not vacuous
    assert result.unrouted == []
    assert set(result.cross_organization) <= {c.value for c in CROSS_ORGANIZATION}


async def test_the_statement_check_catches_a_planted_unrouted_statement(
    admin_conn: asyncpg.Connection,
) -> None:
    tenants = await tenant_tables(admin_conn)
    org = Tenancy(uuid.uuid4())
    some_id = uuid.uuid4()
    planted = StatementLog([
        Statement("SELECT id FROM jobs WHERE id = $1", (some_id,), org),
        Statement("SELECT j.id FROM jobs j JOIN customers c ON c.id = j.customer_id "
                  "WHERE j.organization_id = $1", (org.organization_id,), org),
        Statement("UPDATE invitations SET name = 'x' WHERE id = $1", (some_id,), org),
    ])
    fine = [
        Statement("SELECT id FROM jobs WHERE organization_id = $1 AND id = $2",
                  (org.organization_id, some_id), org),
        Statement("SELECT j.id FROM jobs j JOIN customers c ON c.organization_id = "
                  "j.organization_id AND c.id = j.customer_id WHERE j.organization_id = $1",
                  (org.organization_id,), org),
    ]
    result = await routing(admin_conn, planted, tenants)
    assert [missing for _, missing in result.unrouted] == [
        [_scan_name(missing[0], table)]
        for (_, missing), table in zip(result.unrouted, ("jobs", "customers", "invitations"),
                                       strict=True)]
    for statement in fine:
        assert await unrouted_scans(admin_conn, statement, tenants) == []
    in_context = StatementLog([Statement("SELECT id FROM jobs WHERE id = $1", (some_id,),
                                         Tenancy(system=SystemContext.OUTBOX))])
    assert (await routing(admin_conn, in_context, tenants)).cross_organization == {"outbox": 1}


def _scan_name(found: str, table: str) -> str:
    """Whichever scan the planner chose, on the expected table."""
    assert found.endswith(f" on {table}"), found
    return found
