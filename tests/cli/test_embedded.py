"""With no DATABASE_URL the product runs on an embedded PostgreSQL in a per-user folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pgserver
import pytest

PG_CTL = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "XDG_DATA_HOME": str(home),
           "LOG_FORMAT": "text"}
    return subprocess.run([sys.executable, "-m", "portal_graph.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def data_home(tmp_path: Path):
    yield tmp_path
    pgdata = tmp_path / "portal-graph" / "pgdata"
    if (pgdata / "postmaster.pid").exists():
        user = ["runuser", "-u", "pgserver", "--"] if os.geteuid() == 0 else []
        subprocess.run([*user, str(PG_CTL), "-D", str(pgdata), "stop", "-m", "fast"],
                       capture_output=True, timeout=60, check=False)


def test_migrate_and_seed_demo_run_on_the_embedded_database(data_home):
    first = _cli("migrate", home=data_home)
    again = _cli("migrate", home=data_home)
    seeded = _cli("seed-demo", home=data_home)

    assert first.returncode == 0, first.stderr
    assert "migrated None -> " in first.stdout
    assert again.stdout.strip() == "database is up to date"
    assert "admin login:    admin@demo.example / demo-admin-password" in seeded.stdout
    assert (data_home / "portal-graph" / "pgdata" / "PG_VERSION").exists()
    # Each command stopped the server it started: nothing keeps running afterwards.
    assert not (data_home / "portal-graph" / "pgdata" / "postmaster.pid").exists()
