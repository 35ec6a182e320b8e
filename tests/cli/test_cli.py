"""The `portal-graph` command line: schema export, migrations, organizations, configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal_graph.cli import main
from portal_graph.graphql.schema import audience_schema, full_schema
from portal_graph.scope import Audience

ROOT = Path(__file__).resolve().parents[2]


def test_schema_graphql_is_what_the_code_builds():
    assert (ROOT / "schema.graphql").read_text() == full_schema().as_str().rstrip() + "\n", \
        "schema.graphql drifted: run `portal-graph export-schema`"


def test_export_schema_check_fails_on_drift(tmp_path, capsys):
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { stale: Int }\n")

    assert main(["export-schema", "--check", "--output", str(stale)]) == 1
    assert main(["export-schema", "--output", str(stale)]) == 0
    assert main(["export-schema", "--check", "--output", str(stale)]) == 0


@pytest.mark.parametrize("audience", ["anonymous", "external", "staff", "admin"])
def test_export_schema_prints_one_audience(capsys, audience):
    assert main(["export-schema", "--audience", audience]) == 0
    printed = capsys.readouterr().out
    assert printed == audience_schema(Audience(audience.upper())).as_str().rstrip() + "\n"


def test_the_external_audience_sees_no_staff_fields(capsys):
    main(["export-schema", "--audience", "external"])
    sdl = capsys.readouterr().out
    for hidden in ("price", "internalNotes", "assignedStaff", "capturedBy", "createJob",
                   "createStaffMember"):
        assert hidden not in sdl


def test_migrate_on_an_up_to_date_database_does_nothing(database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    from portal_graph.config import get_settings

    get_settings.cache_clear()
    try:
        assert main(["migrate"]) == 0
    finally:
        get_settings.cache_clear()
    assert capsys.readouterr().out.strip() == "database is up to date"


def test_create_organization_prints_its_id(database_url, monkeypatch, capsys, engine):
    monkeypatch.setenv("DATABASE_URL", database_url)
    from portal_graph.config import get_settings
    from portal_graph.graphql.core.relay import from_global_id

    get_settings.cache_clear()
    try:
        code = main(["create-organization", "--name", "Acme", "--admin-email",
                     "boss@acme.example", "--admin-password", "a very long password"])
    finally:
        get_settings.cache_clear()
    assert code == 0
    parsed = from_global_id(capsys.readouterr().out.strip())
    assert parsed is not None and parsed[0] == "Organization"


def test_create_organization_refuses_an_email_that_already_has_an_account(
        database_url, monkeypatch, capsys, engine):
    """The operator does not attach, or set the password of, somebody's account (1a)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    from portal_graph.config import get_settings

    get_settings.cache_clear()
    try:
        first = main(["create-organization", "--name", "Acme", "--admin-email",
                      "boss@acme.example", "--admin-password", "a very long password"])
        second = main(["create-organization", "--name", "Beta", "--admin-email",
                       "Boss@Acme.example", "--admin-password", "another long password"])
    finally:
        get_settings.cache_clear()
    assert (first, second) == (0, 1)
    assert "DUPLICATE_EMAIL: This email already has an account" in capsys.readouterr().err


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portal_graph.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("variable", "value"), [
    ("DATABASE_URL", "mysql://nope"), ("INVITATION_TTL_DAYS", "45"),
    ("SMTP_URL", "http://mail"), ("DB_POOL_SIZE", "zero"),
])
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(variable, value):
    result = _run("migrate", env={"PATH": "/usr/bin:/bin", variable: value})

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], result.stderr


@pytest.mark.parametrize("command", ["serve", "migrate", "seed-demo", "create-organization",
                                     "export-schema", "seed-scale", "documents"])
def test_every_command_has_help(command):
    result = _run(command, "--help", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and "usage: portal-graph" in result.stdout


async def test_instances_starting_together_migrate_one_at_a_time(tmp_path):
    """Three fresh migrations at once on an empty database: all succeed, one schema results."""
    import asyncio

    import asyncpg

    from tests.conftest import ADMIN_URL, _database_url

    name = f"portal_graph_migrate_race_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "DATABASE_URL": _database_url(name)}
        runs = await asyncio.gather(*(asyncio.create_subprocess_exec(
            sys.executable, "-m", "portal_graph.cli", "migrate", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE) for _ in range(3)))
        outputs = [await run.communicate() for run in runs]
        assert [run.returncode for run in runs] == [0, 0, 0], outputs
        printed = sorted(out.decode().strip() for out, _ in outputs)
        assert printed.count("database is up to date") == 2, printed
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def test_serve_points_invite_links_at_its_own_accept_page(database_url, monkeypatch):
    import portal_graph.logs
    from portal_graph.config import get_settings

    served = {}
    monkeypatch.setenv("DATABASE_URL", database_url)
    # serve writes os.environ itself: setenv first so that monkeypatch restores it afterwards
    monkeypatch.setenv("PORTAL_URL", "unset by this test")
    monkeypatch.delenv("PORTAL_URL")
    monkeypatch.setattr(portal_graph.logs, "configure_logging", lambda settings: None)
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: served.update(kwargs))
    get_settings.cache_clear()
    try:
        assert main(["serve", "--host", "0.0.0.0", "--port", "8123"]) == 0
        assert get_settings().portal_url == "http://127.0.0.1:8123/accept/"
    finally:
        get_settings.cache_clear()
    assert served["port"] == 8123
