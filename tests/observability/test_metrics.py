"""/metrics: operations by name and outcome, their latency, errors by code, SQL per request,
the outbox as it stands in the database, and several processes added up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from email.message import EmailMessage
from pathlib import Path

import pytest

from portal_graph.mail import outbox
from portal_graph.observability import CountedTransport, metrics
from portal_graph.scope import admin_scope
from tests.observability.conftest import scrape

PROBE = "query ObservabilityProbe { customers(first: 5) { totalCount } }"
ANONYMOUS_CUSTOMERS = "query AnonymousProbe { customers(first: 1) { totalCount } }"


async def _admin_token(make) -> str:  # type: ignore[no-untyped-def]
    org = await make.organization()
    await make.customer(org)
    admin = await make.staff(org)
    return str(await make.session_token(org, admin["person"]["id"]))


async def test_one_request_shows_up_under_its_operation_name(api, client, make, scraper):
    token = await _admin_token(make)
    before = await scrape(scraper)

    result = await api(PROBE, token=token)
    after = await scrape(scraper)

    assert result["data"]["customers"]["totalCount"] == 1
    for name, labels in [
        ("portal_graph_graphql_requests_total",
         {"operation": "ObservabilityProbe", "outcome": "ok"}),
        ("portal_graph_graphql_request_duration_seconds_count",
         {"operation": "ObservabilityProbe"}),
        ("portal_graph_sql_statements_per_request_count", {"operation": "ObservabilityProbe"}),
        ("portal_graph_http_requests_total",
         {"route": "/graphql", "method": "POST", "status": "200"}),
    ]:
        assert after.value(name, **labels) - before.value(name, **labels) == 1, name
    assert 'operation="ObservabilityProbe"' in after.text
    # the viewer's session, its grants, the page and its count: at least two statements
    statements = (after.value("portal_graph_sql_statements_per_request_sum",
                              operation="ObservabilityProbe")
                  - before.value("portal_graph_sql_statements_per_request_sum",
                                 operation="ObservabilityProbe"))
    assert statements >= 2


async def test_a_refused_operation_counts_as_rejected_with_its_error_code(api, client, scraper):
    before = await scrape(scraper)

    result = await api(ANONYMOUS_CUSTOMERS)
    after = await scrape(scraper)

    code = result["errors"][0]["extensions"]["code"]
    assert code == "GRAPHQL_VALIDATION_FAILED"  # not in the anonymous schema
    assert "data" not in result
    assert after.value("portal_graph_graphql_requests_total", operation="(invalid)",
                       outcome="rejected") - before.value(
        "portal_graph_graphql_requests_total", operation="(invalid)", outcome="rejected") == 1
    assert after.value("portal_graph_graphql_errors_total", code=code) - before.value(
        "portal_graph_graphql_errors_total", code=code) == 1


async def test_an_execution_error_counts_as_error_under_the_operation(api, client, make, scraper):
    token = await _admin_token(make)
    query = 'query BadCursor { jobs(first: 1, after: "garbage") { totalCount } }'
    before = await scrape(scraper)

    result = await api(query, token=token)
    after = await scrape(scraper)

    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert after.value("portal_graph_graphql_requests_total", operation="BadCursor",
                       outcome="error") - before.value(
        "portal_graph_graphql_requests_total", operation="BadCursor", outcome="error") == 1
    assert after.value("portal_graph_graphql_errors_total", code="BAD_USER_INPUT") - before.value(
        "portal_graph_graphql_errors_total", code="BAD_USER_INPUT") == 1


async def test_a_batch_reports_its_sql_statements_as_one_batch(client, make, scraper):
    token = await _admin_token(make)
    before = await scrape(scraper)

    response = await client.post("/graphql", headers={"Authorization": f"Bearer {token}"},
                                 json=[{"query": PROBE}, {"query": "query Other { me { email } }"}])
    after = await scrape(scraper)

    assert response.status_code == 200
    assert after.value("portal_graph_sql_statements_per_request_count",
                       operation="(batch)") - before.value(
        "portal_graph_sql_statements_per_request_count", operation="(batch)") == 1
    assert after.value("portal_graph_graphql_requests_total", operation="Other",
                       outcome="ok") - before.value(
        "portal_graph_graphql_requests_total", operation="Other", outcome="ok") == 1


async def test_the_outbox_is_read_from_the_database_at_each_scrape(scraper, make, runtime,
                                                                    sessionmaker):
    org = await make.organization()
    empty = await scrape(scraper)
    async with sessionmaker() as session, session.begin():
        for address in ("a@example.com", "b@example.com"):
            await outbox.enqueue(session, admin_scope(org), template="invitation",
                                 to_address=address, params={}, secret=None, box=runtime.box)

    queued = await scrape(scraper)

    assert empty.value("portal_graph_outbox_emails", status="QUEUED") == 0
    assert queued.value("portal_graph_outbox_emails", status="QUEUED") == 2
    assert queued.value("portal_graph_outbox_emails", status="FAILED") == 0
    assert 'portal_graph_outbox_emails{status="SENT"} 0.0' in queued.text
    assert queued.value("portal_graph_outbox_scrape_ok") == 1


async def test_failed_and_successful_deliveries_are_counted():
    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        async def send(self, message: EmailMessage) -> None:
            self.calls += 1
            if self.calls == 1:
                raise ConnectionRefusedError("smtp down")

    transport = CountedTransport(Flaky())
    counter = metrics.OUTBOX_DELIVERIES
    errors, sent = counter.labels("error")._value.get(), counter.labels("sent")._value.get()

    with pytest.raises(ConnectionRefusedError):
        await transport.send(EmailMessage())
    await transport.send(EmailMessage())

    assert counter.labels("error")._value.get() == errors + 1
    assert counter.labels("sent")._value.get() == sent + 1


def test_operation_names_are_bounded_per_process(monkeypatch):
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", 2)

    labels = [metrics.operation_label(name) for name in ("A", "B", "C", "A", None)]
    not_admitted = metrics.operation_label("D", admit=False)

    assert labels == ["A", "B", "(other)", "A", "(anonymous)"]
    assert not_admitted == "(other)"


async def test_anonymous_clients_cannot_fill_the_operation_labels_with_names_of_their_own(
        api, scraper, make, monkeypatch):
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", 3)
    before = await scrape(scraper)

    for n in range(5):  # valid documents, made-up names
        assert "errors" not in await api(f"query Junk{n} {{ me {{ email }} }}")
    assert "errors" not in await api("query IntrospectionQuery { __schema { queryType { name } } }")
    signed_in = await api("query Dashboard { me { email } }", token=await _admin_token(make))
    after = await scrape(scraper)

    assert "errors" not in signed_in
    assert not any('operation="Junk' in line for line in after.text.splitlines())
    assert after.value("portal_graph_graphql_requests_total", operation="(other)",
                       outcome="ok") - before.value(
        "portal_graph_graphql_requests_total", operation="(other)", outcome="ok") == 5
    for own in ("IntrospectionQuery", "Dashboard"):  # the product's own, and a signed-in one
        assert after.value("portal_graph_graphql_requests_total", operation=own, outcome="ok") \
            - before.value("portal_graph_graphql_requests_total", operation=own,
                           outcome="ok") == 1, own


_CHILD = textwrap.dedent("""
    import sys
    from portal_graph.observability import metrics
    metrics.GRAPHQL_REQUESTS.labels("Shared", "ok").inc(int(sys.argv[1]))
""")
_SCRAPER = textwrap.dedent("""
    import sys
    from portal_graph.observability import metrics
    sys.stdout.write(metrics.exposition(None).decode())
""")


@pytest.mark.slow
def test_with_a_multiprocess_dir_a_scrape_adds_up_every_process(tmp_path: Path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for increment in ("2", "3"):
        subprocess.run([sys.executable, "-c", _CHILD, increment], env=env, check=True,
                       timeout=60)

    page = subprocess.run([sys.executable, "-c", _SCRAPER], env=env, check=True,
                          capture_output=True, text=True, timeout=60).stdout

    assert 'portal_graph_graphql_requests_total{operation="Shared",outcome="ok"} 5.0' in page
    assert "portal_graph_outbox_scrape_ok 0.0" in page


async def test_without_a_metrics_token_only_this_machine_may_scrape(client, scraper):
    remote = await client.get("/metrics")  # from 203.0.113.7
    local = await scraper.get("/metrics")  # from 127.0.0.1

    assert (remote.status_code, local.status_code) == (403, 200)
    assert "portal_graph" not in remote.text


async def test_a_metrics_token_guards_the_page_from_anywhere_when_configured(
        client, scraper, runtime, monkeypatch):
    monkeypatch.setattr(runtime.settings, "metrics_token", "scrape-secret")

    anonymous = await client.get("/metrics")
    local = await scraper.get("/metrics")
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})

    assert [r.status_code for r in (anonymous, local, wrong, right)] == [401, 401, 401, 200]
    assert "portal_graph" in right.text
