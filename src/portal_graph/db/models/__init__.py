"""The whole domain model, one module per area; import it as a module (`models.Customer`).

Every tenant table has `organization_id` as the first column of its primary key, and every
foreign key between tenant tables includes it, so no row can point into another organization
and a distributed PostgreSQL can shard the data by organization. Relationships are not mapped
(no lazy loading at all): every related lookup goes through a loader or an explicit query.
"""

# isort: off
# The tables in the order of the migrations that made them: Base.metadata.sorted_tables breaks
# ties by it, and the tests' clean-ups empty the tables in that order.
from portal_graph.db.models.base import NAMING, WAL_POSITION, Base, new_id, table_of
from portal_graph.db.models.accounts import (
    ExternalUser,
    Organization,
    Person,
    Role,
    StaffMember,
)
from portal_graph.db.models.work import (
    Asset,
    Customer,
    CustomerGrant,
    Job,
    JobAsset,
    JobAssignment,
    JobStatus,
    MapCapture,
)
from portal_graph.db.models.credentials import (
    ApiToken,
    Invitation,
    InvitationCustomer,
    InvitationKind,
    InvitationState,
    PasswordReset,
    Session,
)
from portal_graph.db.models.history import (
    AuditEvent,
    DomainEvent,
    FeedGrantPeriod,
    FeedPublicPeriod,
    FeedTombstone,
)
from portal_graph.db.models.delivery import (
    OutboxEmail,
    OutboxStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from portal_graph.db.models.limits import CostBucket, RateLimitCounter, TrustedDocument
# isort: on

__all__ = [
    "NAMING", "WAL_POSITION", "ApiToken", "Asset", "AuditEvent", "Base", "CostBucket",
    "Customer", "CustomerGrant", "DomainEvent", "ExternalUser", "FeedGrantPeriod",
    "FeedPublicPeriod", "FeedTombstone", "Invitation", "InvitationCustomer", "InvitationKind",
    "InvitationState", "Job", "JobAsset", "JobAssignment", "JobStatus", "MapCapture",
    "Organization", "OutboxEmail", "OutboxStatus", "PasswordReset", "Person",
    "RateLimitCounter", "Role", "Session", "StaffMember", "TrustedDocument", "WebhookDelivery",
    "WebhookEndpoint", "new_id", "table_of",
]
