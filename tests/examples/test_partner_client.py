"""docs/examples/partner_sync.py and webhook_receiver.py against a live `portal-graph serve`:
a partner's API token syncs the completed jobs of its granted customer into SQLite through the
feed, and its webhook receiver (signatures verified) syncs again when a job is completed."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id
from tests.hardening.processes import ServerProcess, free_port, start_server

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
CREATE_TOKEN = """mutation { createApiToken(input: {name: "council sync"}) {
  token userErrors { code } } }"""
CREATE_ENDPOINT = """mutation($url: String!) { createWebhookEndpoint(input: {url: $url}) {
  secret userErrors { code message } } }"""
SET_STATUS = """mutation($id: ID!) { setJobStatus(input: {jobId: $id, status: COMPLETED}) {
  userErrors { code } } }"""


@pytest.fixture
def live(database_url: str, settings, tmp_path: Path) -> Iterator[ServerProcess]:  # type: ignore[no-untyped-def]
    server = start_server(tmp_path, database_url, secret_key=settings.secret_key,
                          RUN_WEBHOOK_WORKER="true", WEBHOOK_ALLOW_PRIVATE="true",
                          WEBHOOK_POLL_SECONDS="0.2",
                          WEBHOOK_BACKOFF_SECONDS="0.2")
    try:
        yield server
    finally:
        server.terminate()


def _call(server: ServerProcess, query: str, token: str, **variables: object) -> dict:
    response = httpx.post(f"{server.url}/graphql", json={"query": query, "variables": variables},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
    body = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def _heard(events: Path, kind: str) -> bool:
    lines = events.read_text().splitlines() if events.exists() else []
    return any(json.loads(line)["type"] == kind for line in lines)


def _jobs(database: Path) -> set[str]:
    db = sqlite3.connect(database)
    try:
        return {row[0] for row in db.execute("SELECT id FROM jobs")}
    finally:
        db.close()


async def test_the_partner_client_syncs_through_the_feed_and_on_webhooks(
        live, make, tmp_path: Path):
    org = await make.organization()
    granted, other = await make.customer(org), await make.customer(org)
    done = await make.job(org, granted)
    await make.job(org, granted, status=models.JobStatus.IN_PROGRESS)
    await make.job(org, other)
    later = await make.job(org, granted, status=models.JobStatus.IN_PROGRESS)
    admin = await make.staff(org)
    partner = await make.external(org, [granted])
    tokens = (await make.session_token(org, partner["person"]["id"]),
              await make.session_token(org, admin["person"]["id"]))

    await asyncio.to_thread(_partner_at_work, live, tmp_path, tokens, done, later)


def _partner_at_work(live: ServerProcess, folder: Path, tokens: tuple[str, str],
                     done: uuid.UUID, later: uuid.UUID) -> None:
    partner_session, admin_session = tokens
    api_token = _call(live, CREATE_TOKEN, partner_session)["createApiToken"]["token"]
    env = {**os.environ, "PORTAL_API": f"{live.url}/graphql", "PORTAL_TOKEN": api_token}
    database = folder / "jobs.sqlite3"
    events = folder / "jobs.sqlite3.events.jsonl"

    first = subprocess.run([sys.executable, str(EXAMPLES / "partner_sync.py"), str(database)],
                           env=env, capture_output=True, text=True, timeout=60, check=True)
    assert _jobs(database) == {to_global_id("Job", done)}
    assert first.stdout.startswith("applied")

    port = free_port()
    created = _call(live, CREATE_ENDPOINT, api_token,
                    url=f"http://127.0.0.1:{port}/hooks")["createWebhookEndpoint"]
    assert created["userErrors"] == []
    receiver = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "webhook_receiver.py"), "--port", str(port),
         str(database)], env={**env, "WEBHOOK_SECRET": created["secret"]},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert receiver.stdout is not None
        assert "listening" in receiver.stdout.readline()
        _call(live, SET_STATUS, admin_session, id=to_global_id("Job", later))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _heard(events, "job.completed"):
            time.sleep(0.2)
    finally:
        receiver.terminate()
        receiver.wait(10)

    assert _jobs(database) == {to_global_id("Job", done), to_global_id("Job", later)}
    assert _heard(events, "job.completed") and _heard(events, "job.updated")
