"""Every log line written while a request is served carries that request's id, the one the
client sees in X-Request-Id; and the access line never shows a secret from the URL."""

from __future__ import annotations

import logging

from portal_graph.logs import TextFormatter, logging_config
from portal_graph.observability import RequestContextFilter, request_id_var
from tests.observability.test_metrics import PROBE, _admin_token


async def test_each_request_logs_with_its_own_request_id(client, api, make, log_lines):
    token = await _admin_token(make)
    sql = logging.getLogger("sqlalchemy.engine.Engine")
    sql.setLevel(logging.INFO)  # statements run in SQLAlchemy's greenlets: the id must follow
    try:
        await api(PROBE, token=token)
        first = api.response.headers["x-request-id"]
        await api(PROBE, token=token)
        second = api.response.headers["x-request-id"]
    finally:
        sql.setLevel(logging.NOTSET)

    entries = log_lines.entries()
    access = [e for e in entries if e["logger"] == "portal_graph.access"]
    statements = [e for e in entries if e["logger"].startswith("sqlalchemy.engine")]
    assert first != second
    assert [(e["request_id"], e["route"], e["status"], e["operation"]) for e in access] == [
        (first, "/graphql", 200, "ObservabilityProbe"),
        (second, "/graphql", 200, "ObservabilityProbe")]
    assert access[0]["sql_statements"] >= 2
    assert {e["request_id"] for e in statements} == {first, second}
    assert all(e["level"] == "info" and e["time"] and e["message"] for e in entries)


async def test_the_access_line_names_the_route_not_the_invitation_token(client, log_lines):
    secret = "s3cret-invitation-token-value"

    response = await client.get(f"/accept/{secret}")

    assert response.status_code == 200
    line = next(e for e in log_lines.entries() if e["logger"] == "portal_graph.access")
    assert line["route"] == "/accept/{token}"
    assert line["request_id"] == response.headers["x-request-id"]
    server_side = [e for e in log_lines.entries() if e["logger"] != "httpx"]  # the test client
    assert secret not in str(server_side)


def test_outside_a_request_the_request_id_is_absent():
    record = logging.LogRecord("portal_graph.mail", logging.INFO, __file__, 1, "sent", (), None)

    RequestContextFilter().filter(record)

    assert record.request_id is None  # type: ignore[attr-defined]


def test_an_explicit_request_id_wins_over_the_context():
    token = request_id_var.set("from-context")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
        record.request_id = "explicit"
        RequestContextFilter().filter(record)
    finally:
        request_id_var.reset(token)

    assert record.request_id == "explicit"  # type: ignore[attr-defined]


def test_text_lines_show_the_request_id_in_brackets():
    record = logging.LogRecord("portal_graph.http", logging.WARNING, __file__, 1, "slow", (), None)
    record.request_id = "abc123"

    line = TextFormatter().format(record)

    assert line.endswith(" WARNING portal_graph.http [abc123] slow")


def test_the_served_logging_config_stamps_every_handler_line(settings):
    config = logging_config(settings)

    assert config["handlers"]["stderr"]["filters"] == ["request"]
    assert config["root"]["handlers"] == ["stderr"]
    assert config["filters"]["request"]["()"].endswith("RequestContextFilter")
