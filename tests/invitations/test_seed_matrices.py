"""The product's rules, line by line: docs/INVITATIONS.md's failure-and-recovery matrix (each row:
the problem, then its immediate fix working) and the admin actions of the product. Rows already
covered elsewhere are named in the docstring of the closest test here."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal_graph.db import models
from tests.factories import PASSWORD
from tests.invitations.support import (
    EXTERNAL_USERS,
    INVITE,
    RESEND,
    REVOKE_ACCESS,
    REVOKE_INVITATION,
    SET_CUSTOMERS,
    accept,
    codes,
    expire,
    invite,
    invited,
    only,
    organization,
    scalar,
    signed_up,
    sql,
    token_of,
)

pytestmark = pytest.mark.pooled  # also run through PgBouncer (scripts/test)

PORTAL_JOBS = "{ jobs { edges { node { title status customer { name } } } } }"
CUSTOMER_VIEW = """query($id: ID!) { customer(id: $id) {
  externalUsers { id email } pendingInvitations { id email status expiresAt } } }"""


# --- docs/INVITATIONS.md: the failure and recovery matrix -----------------------------------


async def test_matrix_000_select_at_least_one_company_then_invite_again_with_one(api, org):
    refused = await invite(api, org, "ana@client.example")
    fixed = await invite(api, org, "ana@client.example", "Riverside Council")

    assert refused["userErrors"][0]["message"] == "Select at least one company"
    assert fixed["userErrors"] == [] and fixed["inviteUrl"]


async def test_matrix_000_user_already_belongs_find_them_in_the_list_and_update_their_scope(
        api, org, make):
    await make.external(org.id, [org.customers["Riverside Council"]],
                        email="ana@client.example", name="Ana Lee")

    refused = await invite(api, org, "ana@client.example", "Riverside Council")
    found = only(await api(EXTERNAL_USERS, {"search": "ana"}, token=org.token))["edges"]
    updated = only(await api(SET_CUSTOMERS, {"user": found[0]["node"]["id"], "customers": [
        org.customer("Riverside Council"), org.customer("Harbour Works")]}, token=org.token))

    assert refused["userErrors"][0] == {"code": "ALREADY_MEMBER", "field": ["input", "email"],
                                        "message": "User already belongs to this account"}
    assert [c["name"] for c in updated["externalUser"]["customers"]] == [
        "Harbour Works", "Riverside Council"]


async def test_matrix_000_invite_expired_then_a_resend_gives_a_working_link(api, org,
                                                                           sessionmaker):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await expire(sessionmaker, "ana@client.example")

    refused = await accept(api, token_of(sent["inviteUrl"]))
    resent = only(await api(RESEND, {"id": sent["invitation"]["id"]}, token=org.token))
    accepted = await accept(api, token_of(resent["inviteUrl"]))

    assert refused["userErrors"][0]["message"] == "Invite expired"
    assert accepted["userErrors"] == []


async def test_matrix_000_invite_expired_then_a_new_invite_replaces_it(api, org, sessionmaker):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await expire(sessionmaker, "ana@client.example")

    replaced = await invited(api, org, "ana@client.example", "Riverside Council")
    accepted = await accept(api, token_of(replaced["inviteUrl"]))

    assert codes(await accept(api, token_of(sent["inviteUrl"]))) == ["INVITATION_INVALID"]
    assert accepted["userErrors"] == []


async def test_matrix_000_client_did_not_receive_the_email_copy_the_invite_link(api, org):
    """The SMTP side (FAILED status, then the copied link working) is in
    test_email_delivery.py::test_matrix_000_client_did_not_receive_the_email_..."""
    sent = await invited(api, org, "ana@client.example", "Riverside Council")

    accepted = await accept(api, token_of(sent["inviteUrl"]))

    assert sent["inviteUrl"].startswith("http") and accepted["userErrors"] == []


async def test_matrix_000_client_cannot_see_what_they_expect_wrong_scope_or_not_completed(
        api, org, make):
    riverside, harbour = org.customers["Riverside Council"], org.customers["Harbour Works"]
    await make.job(org.id, riverside, title="Done at Riverside")
    open_job = await make.job(org.id, riverside, status=models.JobStatus.IN_PROGRESS,
                              title="Still going")
    await make.job(org.id, harbour, title="Done at Harbour")
    session, _ = await signed_up(api, org, "ana@client.example", "Riverside Council")
    user = only(await api(EXTERNAL_USERS, {}, token=org.token))["edges"][0]["node"]["id"]

    def titles(result):  # type: ignore[no-untyped-def]
        return sorted(e["node"]["title"] for e in result["data"]["jobs"]["edges"])

    assert titles(await api(PORTAL_JOBS, token=session)) == ["Done at Riverside"]
    # fix 1: the right companies
    only(await api(SET_CUSTOMERS, {"user": user, "customers": [
        org.customer("Riverside Council"), org.customer("Harbour Works")]}, token=org.token))
    assert titles(await api(PORTAL_JOBS, token=session)) == ["Done at Harbour",
                                                             "Done at Riverside"]
    # fix 2: the work is actually completed
    await _complete(make, open_job)
    assert titles(await api(PORTAL_JOBS, token=session)) == ["Done at Harbour",
                                                             "Done at Riverside", "Still going"]


async def _complete(make, job_id) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    async with make.sessionmaker() as session, session.begin():
        await session.execute(update(models.Job).where(models.Job.id == job_id)
                              .values(status=models.JobStatus.COMPLETED))


async def test_matrix_000_you_do_not_see_invite_client_user_ask_an_admin(api, org, make):
    """Every admin-only operation for every other audience: test_out_of_scope.py."""
    manager = await make.staff(org.id, role=models.Role.MANAGER)
    token = await make.session_token(org.id, manager["person"]["id"])
    variables = {"input": {"email": "ana@client.example",
                           "customerIds": [org.customer("Riverside Council")]}}

    refused = await api(INVITE, variables, token=token)
    by_admin = only(await api(INVITE, variables, token=org.token))

    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert by_admin["userErrors"] == []


# --- the product: managing external users -----------------------------------------------------


async def test_seed_002_invite_from_a_customer_page_appears_under_pending_invitations(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")

    view = only(await api(CUSTOMER_VIEW, {"id": org.customer("Riverside Council")},
                          token=org.token))

    assert [(i["id"], i["status"]) for i in view["pendingInvitations"]] == [
        (sent["invitation"]["id"], "PENDING")]
    assert view["externalUsers"] == []


async def test_seed_002_once_accepted_they_appear_under_active_external_users(api, org):
    await signed_up(api, org, "ana@client.example", "Riverside Council")

    view = only(await api(CUSTOMER_VIEW, {"id": org.customer("Riverside Council")},
                          token=org.token))

    assert [u["email"] for u in view["externalUsers"]] == ["ana@client.example"]
    assert view["pendingInvitations"] == []


async def test_seed_002_resend_resets_the_30_day_expiration(api, make, sessionmaker):
    org = await organization(make, ttl_days=30)
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await sql(sessionmaker, "UPDATE invitations SET expires_at = now() + interval '2 days'")

    only(await api(RESEND, {"id": sent["invitation"]["id"]}, token=org.token))

    remaining = await scalar(sessionmaker, "SELECT expires_at - now() FROM invitations")
    assert timedelta(days=30) - timedelta(seconds=5) < remaining <= timedelta(days=30)


async def test_seed_002_cancel_a_pending_invitation_with_the_revoke_icon(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")

    only(await api(REVOKE_INVITATION, {"id": sent["invitation"]["id"]}, token=org.token))

    view = only(await api(CUSTOMER_VIEW, {"id": org.customer("Riverside Council")},
                          token=org.token))
    assert view["pendingInvitations"] == []


async def test_seed_002_resending_only_works_while_pending_not_after_accepted(api, org):
    sent = await invited(api, org, "ana@client.example", "Riverside Council")
    await accept(api, token_of(sent["inviteUrl"]))

    assert codes(only(await api(RESEND, {"id": sent["invitation"]["id"]},
                                token=org.token))) == ["INVITATION_NOT_PENDING"]


async def test_seed_002_revoke_from_a_customer_page_leaves_other_companies_in_place(api, org):
    session, _ = await signed_up(api, org, "ana@client.example", "Riverside Council",
                                 "Harbour Works")
    view = only(await api(CUSTOMER_VIEW, {"id": org.customer("Harbour Works")},
                          token=org.token))

    only(await api(REVOKE_ACCESS, {"user": view["externalUsers"][0]["id"],
                                   "customer": org.customer("Harbour Works")}, token=org.token))

    mine = await api("{ customers { edges { node { name } } } }", token=session)
    assert [e["node"]["name"] for e in mine["data"]["customers"]["edges"]] == [
        "Riverside Council"]


async def test_seed_002_the_email_must_not_be_an_internal_team_member(api, org, make):
    await make.staff(org.id, role=models.Role.MANAGER, email="lead@evergreen.example")

    assert codes(await invite(api, org, "lead@evergreen.example",
                              "Riverside Council")) == ["INTERNAL_MEMBER"]


async def test_seed_002_a_contact_can_oversee_several_customers_in_one_portal(api, org):
    session, _ = await signed_up(api, org, "facilities@client.example", "Riverside Council",
                                 "Harbour Works", "Northgate Park")

    mine = await api("{ customers { totalCount } }", token=session)

    assert mine["data"]["customers"]["totalCount"] == 3


async def test_seed_002_an_existing_account_signs_in_with_its_password_to_accept(api, org, make):
    other = await make.organization()
    await make.staff(other, email="dual@example.com")
    sent = await invited(api, org, "dual@example.com", "Riverside Council")

    assert (await accept(api, token_of(sent["inviteUrl"]), password=PASSWORD))["token"]
