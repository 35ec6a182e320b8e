"""An organization made through the API the way an office would: an admin (from the CLI),
customers, and jobs in every status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.browser.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api

ORGANIZATION = "Oakfield Property Services"
# customer -> [(reference, title, status)]
WORK = {
    "Millbrook Parish Council": [
        ("OPS-101", "Playground safety inspection", "COMPLETED"),
        ("OPS-102", "Drain survey, Church Lane", "COMPLETED"),
        ("OPS-103", "Bench repainting", "IN_PROGRESS"),
    ],
    "Quayside Lofts": [
        ("OPS-201", "Lift annual service", "COMPLETED"),
        ("OPS-202", "Roof gutter clearance", "SCHEDULED"),
    ],
    "Westgate Retail Park": [
        ("OPS-301", "Car park relining", "COMPLETED"),
    ],
}
GRANTED = ("Millbrook Parish Council", "Quayside Lofts")
VISIBLE_JOBS = {"OPS-101", "OPS-102", "OPS-201"}  # completed, of the granted customers

LOGIN = """mutation Login($input: LoginInput!) {
  login(input: $input) { token userErrors { code message } }
}"""
CREATE_CUSTOMER = """mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id name } userErrors { code message } }
}"""
CREATE_JOB = """mutation CreateJob($input: CreateJobInput!) {
  createJob(input: $input) { job { id reference status completedAt } userErrors { code message } }
}"""
INVITE = """mutation Invite($input: InviteExternalUserInput!) {
  inviteExternalUser(input: $input) {
    inviteUrl
    invitation { id email status emailStatus customers { name } }
    userErrors { code field message }
  }
}"""
RESEND = """mutation Resend($input: ResendInvitationInput!) {
  resendInvitation(input: $input) {
    inviteUrl
    invitation { id status expiresAt }
    userErrors { code message }
  }
}"""
INVITATION = """query Invitation($id: ID!) {
  node(id: $id) { ... on Invitation { status emailStatus acceptedAt } }
}"""


@dataclass(frozen=True)
class Contractor:
    admin_token: str
    customer_ids: dict[str, str]

    def granted_ids(self) -> list[str]:
        return [self.customer_ids[name] for name in GRANTED]


async def build_contractor(api: Api) -> Contractor:
    login = (await api(LOGIN, {"input": {"email": ADMIN_EMAIL,
                                         "password": ADMIN_PASSWORD}}))["login"]
    assert login["userErrors"] == [], login
    token = login["token"]
    customer_ids = {}
    for customer, jobs in WORK.items():
        created = (await api(CREATE_CUSTOMER, {"input": {"name": customer}},
                             token))["createCustomer"]
        assert created["userErrors"] == [], created
        customer_ids[customer] = created["customer"]["id"]
        for reference, title, status in jobs:
            job = (await api(CREATE_JOB, {"input": {
                "customerId": customer_ids[customer], "title": title, "reference": reference,
                "status": status}}, token))["createJob"]
            assert job["userErrors"] == [], job
            assert (job["job"]["completedAt"] is not None) == (status == "COMPLETED")
    return Contractor(token, customer_ids)


async def invite(api: Api, contractor: Contractor, email: str) -> dict[str, Any]:
    """Invite `email` to the granted customers, as the office admin; the payload."""
    payload = (await api(INVITE, {"input": {"email": email, "name": None,
                                            "customerIds": contractor.granted_ids()}},
                         contractor.admin_token))["inviteExternalUser"]
    assert payload["userErrors"] == [], payload
    return payload  # type: ignore[no-any-return]
