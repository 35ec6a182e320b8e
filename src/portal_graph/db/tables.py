"""The Core table of each model the repositories write SQL on, named once.

Repositories and the scope layer read and write Core rows (`tables.jobs.c.status`), not ORM
entities (mail/repository.py is the one exception and says why); each imports the tables it uses
from here, under a shorter name where that reads better (`webhook_endpoints as endpoints`).
"""

from __future__ import annotations

from portal_graph.db.models import (
    ApiToken,
    Asset,
    AuditEvent,
    Customer,
    CustomerGrant,
    DomainEvent,
    ExternalUser,
    FeedGrantPeriod,
    FeedPublicPeriod,
    FeedTombstone,
    Invitation,
    InvitationCustomer,
    Job,
    JobAsset,
    JobAssignment,
    MapCapture,
    Organization,
    PasswordReset,
    Person,
    Session,
    StaffMember,
    WebhookDelivery,
    WebhookEndpoint,
    table_of,
)

# the organization and its people
organizations = table_of(Organization)
persons = table_of(Person)
staff_members = table_of(StaffMember)
sessions = table_of(Session)
api_tokens = table_of(ApiToken)
password_resets = table_of(PasswordReset)
# customers and who outside the organization sees them
customers = table_of(Customer)
external_users = table_of(ExternalUser)
customer_grants = table_of(CustomerGrant)
invitations = table_of(Invitation)
invitation_customers = table_of(InvitationCustomer)
# the work
jobs = table_of(Job)
job_assignments = table_of(JobAssignment)
assets = table_of(Asset)
job_assets = table_of(JobAsset)
map_captures = table_of(MapCapture)
# what happened: audit, events, the change feed and webhooks
audit_events = table_of(AuditEvent)
domain_events = table_of(DomainEvent)
feed_tombstones = table_of(FeedTombstone)
feed_public_periods = table_of(FeedPublicPeriod)
feed_grant_periods = table_of(FeedGrantPeriod)
webhook_endpoints = table_of(WebhookEndpoint)
webhook_deliveries = table_of(WebhookDelivery)
