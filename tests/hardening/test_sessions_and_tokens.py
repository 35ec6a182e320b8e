"""Sessions end (expiry, idleness, logout) and API tokens act with their owner's scope only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_graph.auth.tokens import token_digest
from portal_graph.config import Settings
from portal_graph.graphql.core.relay import to_global_id
from tests.conftest import Api, without_cost
from tests.hardening.conftest import World

ME = "{ me { email } }"
JOBS = "{ jobs { edges { node { reference } } } }"
CREATE_TOKEN = """
mutation($name: String!, $days: Int) {
  createApiToken(input: {name: $name, expiresInDays: $days}) {
    token
    apiToken { id name expiresAt revokedAt }
    userErrors { code field message }
  }
}"""
REVOKE_TOKEN = """
mutation($id: ID!) { revokeApiToken(input: {apiTokenId: $id}) { revoked userErrors { code } } }"""
LIST_TOKENS = "{ apiTokens { id name createdAt lastUsedAt expiresAt revokedAt } }"


async def is_signed_out(api: Api, token: str) -> bool:
    """Refused as RFC 6750 says: 401 `invalid_token`, whatever the query (not anonymous)."""
    for query in (ME, JOBS):
        answer = await api(query, token=token)
        assert api.response is not None
        if (api.response.status_code != 401 or "data" in answer
                or answer["errors"][0]["extensions"]["code"] != "UNAUTHENTICATED"
                or api.response.headers.get("WWW-Authenticate")
                != 'Bearer error="invalid_token"'):
            return False
    return True


async def run_sql(engine: AsyncEngine, sql: str, token: str) -> None:
    async with engine.begin() as conn:
        result = await conn.execute(text(sql), {"digest": token_digest(token)})
        assert result.rowcount == 1  # type: ignore[attr-defined]


# --- sessions --------------------------------------------------------------------------------


async def test_a_live_session_is_signed_in(api: Api, world: World) -> None:
    assert not await is_signed_out(api, world.admin_token)


async def test_an_expired_session_is_signed_out(api: Api, world: World,
                                                engine: AsyncEngine) -> None:
    await run_sql(engine, "UPDATE sessions SET expires_at = now() - interval '1 second' "
                          "WHERE token_hash = :digest", world.admin_token)

    assert await is_signed_out(api, world.admin_token)


async def test_an_idle_session_is_signed_out(api: Api, world: World, engine: AsyncEngine,
                                             settings: Settings) -> None:
    idle = settings.session_idle_minutes
    await run_sql(engine, f"UPDATE sessions SET last_seen_at = now() - interval '{idle + 1} "
                          "minutes' WHERE token_hash = :digest", world.admin_token)

    assert await is_signed_out(api, world.admin_token)


async def test_a_session_used_within_the_idle_timeout_stays_signed_in(
    api: Api, world: World, engine: AsyncEngine, settings: Settings
) -> None:
    idle = settings.session_idle_minutes
    await run_sql(engine, f"UPDATE sessions SET last_seen_at = now() - interval '{idle - 1} "
                          "minutes' WHERE token_hash = :digest", world.admin_token)

    assert not await is_signed_out(api, world.admin_token)
    # ... and that use counts as activity: the idle clock starts again.
    async with engine.connect() as conn:
        seen = await conn.scalar(text(
            "SELECT now() - last_seen_at < interval '1 minute' FROM sessions "
            "WHERE token_hash = :digest"), {"digest": token_digest(world.admin_token)})
    assert seen is True


async def test_logout_ends_the_session(api: Api, world: World) -> None:
    ended = await api("mutation { logout { ended } }", token=world.staff_token)

    assert ended["data"]["logout"]["ended"] is True
    assert await is_signed_out(api, world.staff_token)
    assert not await is_signed_out(api, world.admin_token)  # other sessions live on


# --- API tokens ------------------------------------------------------------------------------


async def create_token(api: Api, owner_token: str, **variables: Any) -> dict[str, Any]:
    body = await api(CREATE_TOKEN, {"name": "Council sync", **variables}, token=owner_token)
    created: dict[str, Any] = body["data"]["createApiToken"]
    assert created["userErrors"] == []
    return created


async def test_an_api_token_is_shown_once_and_listed_without_its_secret(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    created = await create_token(api, world.admin_token)
    secret = created["token"]

    listed = await api(LIST_TOKENS, token=world.admin_token)
    fields = await api('{ __type(name: "ApiToken") { fields { name } } }',
                       token=world.admin_token)

    assert secret.startswith("pgt_") and len(secret) > 40
    assert [t["name"] for t in listed["data"]["apiTokens"]] == ["Council sync"]
    assert secret not in str(listed) and secret[4:] not in str(listed)
    assert {f["name"] for f in fields["data"]["__type"]["fields"]} == {
        "id", "name", "createdAt", "lastUsedAt", "expiresAt", "revokedAt"}
    async with engine.connect() as conn:  # only a digest is stored
        row = (await conn.execute(text("SELECT * FROM api_tokens"))).one()
    assert secret not in str(row._mapping) and secret.encode() not in bytes(row.token_hash)
    assert bytes(row.token_hash) == token_digest(secret)


async def test_an_api_token_acts_for_its_owner(api: Api, world: World) -> None:
    secret = (await create_token(api, world.admin_token))["token"]

    body = await api(JOBS, token=secret)

    assert {e["node"]["reference"] for e in body["data"]["jobs"]["edges"]} == {
        "A-DONE", "A-LATER", "B-DONE"}


async def test_a_revoked_api_token_is_refused_on_the_next_request(api: Api,
                                                                    world: World) -> None:
    created = await create_token(api, world.admin_token)
    assert not await is_signed_out(api, created["token"])

    revoked = await api(REVOKE_TOKEN, {"id": created["apiToken"]["id"]}, token=world.admin_token)

    assert revoked["data"]["revokeApiToken"] == {"revoked": True, "userErrors": []}
    assert await is_signed_out(api, created["token"])
    listed = await api(LIST_TOKENS, token=world.admin_token)
    assert listed["data"]["apiTokens"][0]["revokedAt"] is not None


async def test_nobody_else_can_revoke_your_api_token(api: Api, world: World) -> None:
    created = await create_token(api, world.admin_token)

    attempt = await api(REVOKE_TOKEN, {"id": created["apiToken"]["id"]},
                        token=world.staff_token)

    assert attempt["data"]["revokeApiToken"]["userErrors"] == [{"code": "NOT_FOUND"}]
    assert not await is_signed_out(api, created["token"])


async def test_an_expired_api_token_is_refused(api: Api, world: World,
                                                 engine: AsyncEngine) -> None:
    created = await create_token(api, world.admin_token, days=1)
    assert created["apiToken"]["expiresAt"] is not None

    await run_sql(engine, "UPDATE api_tokens SET expires_at = now() - interval '1 second' "
                          "WHERE token_hash = :digest", created["token"])

    assert await is_signed_out(api, created["token"])


async def test_an_external_users_api_token_sees_only_completed_jobs_of_granted_customers(
    api: Api, world: World
) -> None:
    secret = (await create_token(api, world.external_token))["token"]

    jobs = await api(JOBS, token=secret)
    scheduled = await api("query($id: ID!) { job(id: $id) { reference } }",
                          {"id": to_global_id("Job", world.scheduled_a)}, token=secret)
    other_customer = await api("query($id: ID!) { node(id: $id) { id } }",
                               {"id": to_global_id("Job", world.completed_b)}, token=secret)
    staff_field = await api("{ jobs { edges { node { price } } } }", token=secret)

    assert [e["node"]["reference"] for e in jobs["data"]["jobs"]["edges"]] == ["A-DONE"]
    assert without_cost(scheduled) == {"data": {"job": None}}
    assert without_cost(other_customer) == {"data": {"node": None}}
    # For an external user the staff field does not exist at all (hidden means unknown).
    assert staff_field["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_revoked_grant_applies_to_api_tokens_on_the_next_request(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    secret = (await create_token(api, world.external_token))["token"]
    assert (await api(JOBS, token=secret))["data"]["jobs"]["edges"]

    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM customer_grants"))

    assert (await api(JOBS, token=secret))["data"]["jobs"]["edges"] == []
