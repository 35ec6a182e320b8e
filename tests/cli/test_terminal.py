"""A newcomer's terminal: `serve` on a terminal logs readable text (JSON lines elsewhere, or
with LOG_FORMAT=json), and the embedded PostgreSQL's initdb and pg_ctl chatter stays out of it
unless starting the database fails."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal_graph.config import load_settings
from portal_graph.logs import TextFormatter, log_format
from tests.cli.test_embedded import data_home  # noqa: F401  (the fixture)
from tests.hardening.processes import free_port

pytestmark = pytest.mark.slow
CHATTER = ("Running commandline", "Successful postgres command", "initdb", "pg_ctl")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_means_text_on_a_terminal_and_json_elsewhere():
    auto = load_settings(log_format="auto")
    assert log_format(auto, _Terminal()) == "text"
    assert log_format(auto, io.StringIO()) == "json"
    assert log_format(load_settings(log_format="json"), _Terminal()) == "json"
    assert log_format(load_settings(log_format="text"), io.StringIO()) == "text"


def test_text_lines_carry_the_extra_fields_after_the_message():
    record = logging.LogRecord("portal_graph.db.embedded", logging.INFO, __file__, 1,
                               "embedded PostgreSQL running", (), None)
    record.data_dir = "/tmp/pgdata"
    line = TextFormatter().format(record)
    assert line.endswith("INFO portal_graph.db.embedded embedded PostgreSQL running "
                         "data_dir=/tmp/pgdata")


def _serve_on_a_terminal(home: Path, env: dict[str, str], until: str,
                         timeout: float = 120) -> tuple[str, int]:
    """`portal-graph serve` with its stdout and stderr a terminal (a pty), until `until`
    appears in its output (then SIGTERM) or it exits; its output and exit status."""
    main, side = pty.openpty()
    port = free_port()
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "XDG_DATA_HOME": str(home),
                   "RUN_OUTBOX_WORKER": "false", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "portal_graph.cli", "serve", "--port", str(port)],
        stdin=subprocess.DEVNULL, stdout=side, stderr=side, env=environment,
        start_new_session=True)
    os.close(side)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the other side closed: the process is gone
                    break
                output += chunk
                if until.encode() in output:
                    break
            elif process.poll() is not None:
                break
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        status = process.wait(60)
        while True:  # what it wrote while stopping
            ready, _, _ = select.select([main], [], [], 0.2)
            if not ready:
                break
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        os.close(main)
    return output.decode(errors="replace").replace("\r\n", "\n"), status


def test_serve_on_a_terminal_logs_text_without_the_database_s_chatter(data_home):  # noqa: F811
    output, status = _serve_on_a_terminal(data_home, {}, until="Uvicorn running")
    assert "Uvicorn running" in output, output
    log_lines = [line for line in output.splitlines() if " INFO " in line]
    assert log_lines, output
    assert not any(line.lstrip().startswith("{") for line in output.splitlines()), output
    assert "embedded PostgreSQL running data_dir=" in output
    for chatter in CHATTER:
        assert chatter not in output, output
    assert status == 0


def test_with_log_format_json_a_terminal_gets_json(data_home):  # noqa: F811
    output, _ = _serve_on_a_terminal(data_home, {"LOG_FORMAT": "json"}, until="Uvicorn running")
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(e["message"] == "embedded PostgreSQL running" for e in entries), output
    for chatter in CHATTER:
        assert chatter not in output, output


def test_when_the_database_cannot_start_its_output_is_shown(data_home):  # noqa: F811
    pgdata = data_home / "portal-graph" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("9\n")  # a data folder of a version it cannot run
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "pgserver", str(pgdata)], check=False)
    output, status = _serve_on_a_terminal(data_home, {}, until="\0never")
    assert status != 0, output
    assert "pg_ctl" in output, output
