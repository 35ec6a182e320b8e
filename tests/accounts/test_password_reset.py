"""'Forgot password': the mailbox owner can always take the account back (docs/RULES.md). The
request answers the same for any email; the link is single-use, lives an hour, is stored as a
digest and travels sealed in the outbox; resetting ends every session and API token."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from portal_graph.auth.tokens import token_digest
from portal_graph.graphql.core.relay import to_global_id
from portal_graph.mail.transport import SmtpTransport
from portal_graph.mail.worker import OutboxWorker
from portal_graph.ratelimit import Limit, RateLimits
from tests.factories import INVALID_TOKEN, PASSWORD
from tests.invitations.support import AUDIT, only, scalar, sql

REQUEST = """mutation($email: String!) { requestPasswordReset(input: {email: $email}) {
  requested userErrors { code field message } } }"""
RESET = """mutation($token: String!, $password: String!) {
  resetPassword(input: {token: $token, password: $password}) {
    reset userErrors { code field message } } }"""
LOGIN = """mutation($email: String!, $password: String!, $org: ID) {
  login(input: {email: $email, password: $password, organizationId: $org}) {
    token userErrors { code } } }"""
ME = "{ me { email } }"
CREATE_API_TOKEN = """mutation { createApiToken(input: {name: "feed"}) { token } }"""
NEW = "a brand new passphrase"


@pytest.fixture
async def dana(make: Any) -> dict[str, Any]:
    """Staff at Acme, external at Beta; a session and an API token in each."""
    acme, beta = await make.organization(name="Acme"), await make.organization(name="Beta")
    staff = await make.staff(acme, email="dana@acme.test")
    customer = await make.customer(beta)
    await make.external(beta, [customer], person=staff["person"])
    person_id = staff["person"]["id"]
    return {"acme": acme, "beta": beta, "person_id": person_id,
            "sessions": [await make.session_token(acme, person_id),
                         await make.session_token(beta, person_id)]}


async def reset_link(sessionmaker: Any, runtime: Any) -> str:
    """The link in the newest reset email waiting in the outbox, opened with the key."""
    sealed = await scalar(sessionmaker, """SELECT secret_ciphertext FROM email_outbox
        WHERE template = 'password_reset' ORDER BY created_at DESC, id DESC LIMIT 1""")
    assert sealed is not None, "no reset email in the outbox"
    return runtime.box.decrypt(sealed)  # type: ignore[no-any-return]


def token_in(link: str) -> str:
    return link.rsplit("/", 1)[1]


async def test_the_answer_is_the_same_for_any_email_and_only_an_account_gets_mail(
        api, dana, sessionmaker):
    known = only(await api(REQUEST, {"email": "dana@acme.test"}))
    unknown = only(await api(REQUEST, {"email": "nobody@acme.test"}))

    assert known == unknown == {"requested": True, "userErrors": []}
    assert await scalar(sessionmaker, "SELECT count(*) FROM email_outbox") == 1
    assert await scalar(sessionmaker, "SELECT to_address FROM email_outbox") == "dana@acme.test"


async def test_the_link_is_kept_only_as_a_digest_and_sealed_in_the_outbox(
        api, dana, sessionmaker, runtime, settings):
    only(await api(REQUEST, {"email": "dana@acme.test"}))

    link = await reset_link(sessionmaker, runtime)
    token = token_in(link)

    assert link == "http://portal.test/reset/" + token and token.startswith("pgr_")
    stored = await sql(sessionmaker, "SELECT token_hash, expires_at - created_at "
                                     "FROM password_resets")
    assert [(bytes(h), str(life)) for h, life in stored] == [(token_digest(token), "1:00:00")]
    dump = await sql(sessionmaker, "SELECT params::text, secret_ciphertext FROM email_outbox")
    assert token not in dump[0][0] and token.encode() not in bytes(dump[0][1])


async def test_resetting_sets_the_password_and_ends_every_session_and_api_token(
        api, dana, sessionmaker, runtime):
    api_token = only(await api(CREATE_API_TOKEN, token=dana["sessions"][0]))["token"]
    only(await api(REQUEST, {"email": "dana@acme.test"}))
    token = token_in(await reset_link(sessionmaker, runtime))

    done = only(await api(RESET, {"token": token, "password": NEW}))

    assert done == {"reset": True, "userErrors": []}
    for credential in (*dana["sessions"], api_token):
        assert await api(ME, token=credential) == INVALID_TOKEN
    assert only(await api(LOGIN, {"email": "dana@acme.test", "password": PASSWORD,
                                  "org": None}))["token"] is None
    assert only(await api(LOGIN, {"email": "dana@acme.test", "password": NEW,
                                  "org": to_global_id("Organization", dana["beta"])}))["token"]


async def test_a_reset_proves_the_mailbox(api, make, sessionmaker, runtime):
    org = await make.organization()
    unproven = await make.staff(org, email="ops@acme.test", email_verified_at=None)
    only(await api(REQUEST, {"email": "ops@acme.test"}))

    only(await api(RESET, {"token": token_in(await reset_link(sessionmaker, runtime)),
                           "password": NEW}))

    assert await scalar(sessionmaker, "SELECT email_verified_at IS NOT NULL FROM persons "
                                      "WHERE id = :id", id=unproven["person"]["id"]) is True


async def test_a_link_works_once_and_using_it_voids_the_others(api, dana, sessionmaker,
                                                               runtime):
    only(await api(REQUEST, {"email": "dana@acme.test"}))
    first = token_in(await reset_link(sessionmaker, runtime))
    only(await api(REQUEST, {"email": "dana@acme.test"}))
    second = token_in(await reset_link(sessionmaker, runtime))

    used = only(await api(RESET, {"token": second, "password": NEW}))
    again = only(await api(RESET, {"token": second, "password": "yet another passphrase"}))
    older = only(await api(RESET, {"token": first, "password": "yet another passphrase"}))

    assert used["reset"] is True
    for refused in (again, older):
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
            ("INVALID_TOKEN", ["input", "token"])]


async def test_of_concurrent_uses_of_one_link_exactly_one_wins(api, dana, sessionmaker,
                                                               runtime):
    only(await api(REQUEST, {"email": "dana@acme.test"}))
    token = token_in(await reset_link(sessionmaker, runtime))

    results = await asyncio.gather(*(api(RESET, {"token": token, "password": f"{NEW} {n}"})
                                     for n in range(8)))

    assert sum(r["data"]["resetPassword"]["reset"] for r in results) == 1


async def test_an_hour_old_link_is_refused(api, dana, sessionmaker, runtime):
    only(await api(REQUEST, {"email": "dana@acme.test"}))
    token = token_in(await reset_link(sessionmaker, runtime))
    await sql(sessionmaker, "UPDATE password_resets SET expires_at = now() - interval '1 second'")

    refused = only(await api(RESET, {"token": token, "password": NEW}))

    assert [e["code"] for e in refused["userErrors"]] == ["INVALID_TOKEN"]


async def test_a_weak_password_is_refused_and_the_link_still_works(api, dana, sessionmaker,
                                                                   runtime):
    only(await api(REQUEST, {"email": "dana@acme.test"}))
    token = token_in(await reset_link(sessionmaker, runtime))

    weak = only(await api(RESET, {"token": token, "password": "short"}))
    strong = only(await api(RESET, {"token": token, "password": NEW}))

    assert [(e["code"], e["field"]) for e in weak["userErrors"]] == [
        ("WEAK_PASSWORD", ["input", "password"])]
    assert strong["reset"] is True
    assert await api(ME, token=dana["sessions"][0]) == INVALID_TOKEN


async def test_the_reset_is_in_every_organizations_audit_log(api, dana, sessionmaker,
                                                             runtime, make):
    admin = await make.staff(dana["beta"], email="boss@beta.test")
    boss = await make.session_token(dana["beta"], admin["person"]["id"])
    only(await api(REQUEST, {"email": "dana@acme.test"}))

    only(await api(RESET, {"token": token_in(await reset_link(sessionmaker, runtime)),
                           "password": NEW}))

    events = [e["node"] for e in only(await api(AUDIT, token=boss))["edges"]]
    assert [(e["action"], e["targetEmail"]) for e in events] == [
        ("PASSWORD_RESET", "dana@acme.test")]
    assert await scalar(sessionmaker, "SELECT count(*) FROM audit_events "
                                      "WHERE action = 'PASSWORD_RESET'") == 2


@pytest.mark.parametrize(("limits", "emails"), [
    (RateLimits(reset_per_email=Limit(2, 3600)), ["dana@acme.test"] * 2),
    (RateLimits(reset_per_address=Limit(2, 3600)), ["a@acme.test", "b@acme.test"]),
], ids=["per-email", "per-address"])
async def test_requests_are_rate_limited(api, dana, runtime, monkeypatch, limits, emails):
    monkeypatch.setattr(runtime, "rate_limits", limits)
    for email in emails:
        assert only(await api(REQUEST, {"email": email}))["requested"] is True

    refused = only(await api(REQUEST, {"email": "DANA@acme.test"}))

    assert [e["code"] for e in refused["userErrors"]] == ["RATE_LIMITED"]


async def test_an_invalid_address_is_refused_without_a_word_about_accounts(api):
    refused = only(await api(REQUEST, {"email": "a,b@evil.test"}))

    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("INVALID_EMAIL", ["input", "email"])]


async def test_the_reset_email_reaches_the_mailbox_over_smtp(api, dana, sessionmaker, settings,
                                                             runtime, smtp_server):
    only(await api(REQUEST, {"email": "dana@acme.test"}))
    worker = OutboxWorker(sessionmaker, settings, runtime.box, SmtpTransport(smtp_server.url))

    assert await worker.run_once() == 1

    [message] = smtp_server.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert message["To"] == "dana@acme.test"
    assert message["Subject"] == "Reset your customer portal password"
    assert "  - Acme\n  - Beta" in text.replace("\r\n", "\n")
    link = re.search(r"http://portal\.test/reset/pgr_\S+", text)
    assert link and only(await api(RESET, {"token": token_in(link.group(0)),
                                           "password": NEW}))["reset"] is True
    assert await scalar(sessionmaker, "SELECT secret_ciphertext FROM email_outbox") is None


async def test_an_account_that_belongs_nowhere_gets_no_email(api, make, sessionmaker):
    await make.person(email="loner@acme.test")

    answer = only(await api(REQUEST, {"email": "loner@acme.test"}))

    assert answer["requested"] is True
    assert await scalar(sessionmaker, "SELECT count(*) FROM email_outbox") == 0


async def test_an_api_token_cannot_reset(api, dana):
    api_token = only(await api(CREATE_API_TOKEN, token=dana["sessions"][0]))["token"]

    refused = await api(REQUEST, {"email": "dana@acme.test"}, token=api_token)

    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
