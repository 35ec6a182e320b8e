"""Trusted documents: operations stored by SHA-256 and sent by documentId; the audiences in
TRUSTED_DOCUMENTS may send nothing else."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from portal_graph.cli import main
from portal_graph.trusted_documents import document_id, store
from tests.cost.conftest import MAKE_TOKEN, World, api_token

COMPLETED_JOBS = "query CompletedJobs { jobs(first: 10) { edges { node { reference } } } }\n"
AD_HOC = "{ jobs(first: 10) { edges { node { reference } } } }"


async def stored(sessionmaker: async_sessionmaker, body: str) -> str:
    async with sessionmaker() as session, session.begin():
        id_, _ = await store(session, body, [])
    return id_


async def by_id(api: Any, id_: str, token: str, **extra: Any) -> dict[str, Any]:
    api.response = await api.client.post(
        "/graphql", json={"documentId": id_, **extra},
        headers={"Authorization": f"Bearer {token}"})
    return api.response.json()  # type: ignore[no-any-return]


def references(body: dict[str, Any]) -> list[str]:
    return sorted(edge["node"]["reference"] for edge in body["data"]["jobs"]["edges"])


def code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def test_an_external_token_runs_a_stored_document_and_not_an_ad_hoc_one(
        app_with: Any, api_for: Any, world: World, sessionmaker: async_sessionmaker) -> None:
    token = await api_token(api_for(app_with()), world.external_token)  # made before hardening
    api = api_for(app_with(trusted_documents="external"))
    id_ = await stored(sessionmaker, COMPLETED_JOBS)

    from_the_store = await by_id(api, id_, token)
    ad_hoc = await api(AD_HOC, token=token)

    assert references(from_the_store) == ["A-1", "A-2", "A-3"]  # the viewer's scope, as ever
    assert code(ad_hoc) == "PERSISTED_QUERY_ID_REQUIRED"
    assert "data" not in ad_hoc
    assert ad_hoc["extensions"]["cost"]["requestedQueryCost"] == 0


async def test_staff_still_send_ad_hoc_documents(app_with: Any, api_for: Any,
                                                world: World) -> None:
    api = api_for(app_with(trusted_documents="external,anonymous"))

    body = await api(AD_HOC, token=world.admin_token)

    assert "errors" not in body
    assert len(body["data"]["jobs"]["edges"]) == 5


async def test_the_hardened_setting_holds_anonymous_callers_to_stored_documents(
        app_with: Any, api_for: Any) -> None:
    api = api_for(app_with(trusted_documents="external,anonymous"))

    body = await api("{ __typename }")

    assert code(body) == "PERSISTED_QUERY_ID_REQUIRED"


async def test_by_default_every_audience_may_send_ad_hoc_documents(
        app_with: Any, api_for: Any, world: World) -> None:
    api = api_for(app_with())

    body = await api(AD_HOC, token=world.external_token)

    assert references(body) == ["A-1", "A-2", "A-3"]


async def test_an_unknown_document_id_is_not_found(app_with: Any, api_for: Any,
                                                  world: World) -> None:
    api = api_for(app_with(trusted_documents="external"))

    unknown = await by_id(api, document_id("{ never { stored } }"), world.external_token)
    malformed = await by_id(api, "md5:0123", world.external_token)

    assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert code(malformed) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_query_and_a_document_id_together_are_refused(
        app_with: Any, api_for: Any, world: World, sessionmaker: async_sessionmaker) -> None:
    api = api_for(app_with())
    id_ = await stored(sessionmaker, COMPLETED_JOBS)

    body = await by_id(api, id_, world.external_token, query=AD_HOC)

    assert api.response.status_code == 400
    assert code(body) == "INVALID_REQUEST"


async def test_a_stored_query_may_be_sent_over_get(
        app_with: Any, api_for: Any, world: World, sessionmaker: async_sessionmaker) -> None:
    api = api_for(app_with(trusted_documents="external"))
    id_ = await stored(sessionmaker, COMPLETED_JOBS)

    response = await api.client.get(
        "/graphql", params={"documentId": id_, "operationName": "CompletedJobs"},
        headers={"Authorization": f"Bearer {world.external_token}"})

    assert response.status_code == 200
    assert references(response.json()) == ["A-1", "A-2", "A-3"]


async def test_a_stored_mutation_is_refused_over_get(
        app_with: Any, api_for: Any, world: World, sessionmaker: async_sessionmaker) -> None:
    api = api_for(app_with(trusted_documents="external"))
    id_ = await stored(sessionmaker, MAKE_TOKEN)

    over_get = await api.client.get(
        "/graphql", params={"documentId": id_},
        headers={"Authorization": f"Bearer {world.admin_token}"})
    over_post = await by_id(api, id_, world.admin_token)

    assert over_get.status_code == 405
    assert code(over_get.json()) == "METHOD_NOT_ALLOWED"
    assert over_post["data"]["createApiToken"]["token"]


async def test_variables_travel_with_the_document_id(
        app_with: Any, api_for: Any, world: World, sessionmaker: async_sessionmaker) -> None:
    api = api_for(app_with(trusted_documents="external"))
    id_ = await stored(sessionmaker, "query Jobs($first: Int!) { jobs(first: $first) "
                                     "{ edges { node { reference } } } }")

    over_post = await by_id(api, id_, world.external_token, variables={"first": 2})
    over_get = await api.client.get(
        "/graphql", params={"documentId": id_, "variables": orjson.dumps({"first": 1}).decode()},
        headers={"Authorization": f"Bearer {world.external_token}"})

    assert len(over_post["data"]["jobs"]["edges"]) == 2
    assert len(over_get.json()["data"]["jobs"]["edges"]) == 1


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from portal_graph.config import get_settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_documents_add_stores_files_by_their_sha256_and_list_shows_them(
        cli_database: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        engine: Any) -> None:
    path = tmp_path / "completed-jobs.graphql"
    path.write_text(COMPLETED_JOBS)

    assert main(["documents", "add", str(path)]) == 0
    added = capsys.readouterr().out
    assert main(["documents", "add", str(path)]) == 0
    again = capsys.readouterr().out
    assert main(["documents", "list"]) == 0
    listed = capsys.readouterr().out

    assert added == f"{document_id(COMPLETED_JOBS)}  {path}\n"
    assert again == f"{document_id(COMPLETED_JOBS)}  {path}  (already stored)\n"
    assert listed.startswith(document_id(COMPLETED_JOBS))
    assert listed.rstrip().endswith("CompletedJobs")


def test_documents_add_refuses_a_document_the_schema_does_not_have(
        cli_database: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        engine: Any) -> None:
    good, bad = tmp_path / "good.graphql", tmp_path / "bad.graphql"
    good.write_text(COMPLETED_JOBS)
    bad.write_text("{ jobs { noSuchField } }")

    assert main(["documents", "add", str(good), str(bad)]) == 1
    assert "bad.graphql" in capsys.readouterr().err
    assert main(["documents", "list"]) == 0
    assert capsys.readouterr().out == ""  # all or nothing


# --- the server's own pages --------------------------------------------------------------------


def test_every_document_of_the_pages_is_known() -> None:
    from portal_graph.web.page_documents import PAGE_SCRIPTS, STATIC_DIR, page_documents

    constants = sum(len(re.findall(r"const [A-Z_]+_(?:QUERY|MUTATION) = `",
                                   (STATIC_DIR / name).read_text()))
                    for name in PAGE_SCRIPTS)

    assert constants == len(page_documents()) == 6


async def test_the_accept_page_works_under_the_hardened_setting(app_with: Any,
                                                               api_for: Any) -> None:
    from portal_graph.web.page_documents import page_documents

    api = api_for(app_with(trusted_documents="external,anonymous"))
    preview = next(d for d in page_documents() if "invitationPreview" in d)

    as_the_page_sends_it = await api(preview, {"token": "not-a-real-token"})
    reworded = await api(preview.replace("expired ", ""), {"token": "not-a-real-token"})

    assert as_the_page_sends_it["data"] == {"invitationPreview": None}
    assert code(reworded) == "PERSISTED_QUERY_ID_REQUIRED"
