"""Viewer -> Scope, and Scope -> SQL filters: the one place docs/RULES.md becomes SQL.

Repositories take a `Scope`, which only `scope_for` creates, and build every tenant query with
the filters below. An out-of-scope row is simply absent from the result, exactly like a row
that does not exist.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any, NewType

from sqlalchemy import ColumnElement, Select, and_, any_, bindparam, exists, false, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from portal_graph.db import models
from portal_graph.db.tables import (
    assets,
    customers,
    job_assets,
    jobs,
    map_captures,
    webhook_endpoints,
)

OrganizationId = NewType("OrganizationId", uuid.UUID)


class Audience(enum.Enum):
    """Who is asking, as far as the schema is concerned (docs/RULES.md's columns)."""

    ANONYMOUS = "ANONYMOUS"
    EXTERNAL = "EXTERNAL"
    STAFF = "STAFF"  # MANAGER and USER members
    ADMIN = "ADMIN"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The caller of one request, read fresh from the database for that request."""

    audience: Audience = Audience.ANONYMOUS
    person_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    email: str | None = None
    name: str | None = None
    role: models.Role | None = None
    staff_member_id: uuid.UUID | None = None
    external_user_id: uuid.UUID | None = None
    granted_customer_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    session_id: uuid.UUID | None = None
    api_token_id: uuid.UUID | None = None
    # The primary's WAL position after the credential's last write: a read replica serves
    # this viewer only once it has replayed that far (replicas.py).
    write_lsn: int | None = None


ANONYMOUS = Viewer()


@dataclass(frozen=True, slots=True)
class Scope:
    organization_id: OrganizationId
    external: bool
    customer_ids: frozenset[uuid.UUID]  # the grants; only meaningful when external
    # Whose grants those are (the change feed reads their history); external viewers only.
    external_user_id: uuid.UUID | None = None


def scope_for(viewer: Viewer) -> Scope | None:
    """The only constructor of a Scope. None for anonymous callers: they see no tenant data."""
    if viewer.organization_id is None or viewer.audience is Audience.ANONYMOUS:
        return None
    return Scope(
        organization_id=OrganizationId(viewer.organization_id),
        external=viewer.audience is Audience.EXTERNAL,
        customer_ids=viewer.granted_customer_ids,
        external_user_id=(viewer.external_user_id
                          if viewer.audience is Audience.EXTERNAL else None),
    )


def admin_scope(organization_id: uuid.UUID) -> Scope:
    """Organization-wide scope for trusted server-side work (CLI, seeding, accept)."""
    return Scope(OrganizationId(organization_id), external=False, customer_ids=frozenset())


# --- row filters ---------------------------------------------------------------------------
# The scope's values are NAMED parameters, so that a statement's text depends on the shape of
# the scope (staff or external), never on its values: the grants are one array parameter
# (`= ANY($n::UUID[])`), whatever their number. A statement built once per shape runs with
# `parameters(scope)` (see scoped_sql/shapes.py).

ORGANIZATION = "scope_organization_id"
GRANTED = "scope_customer_ids"
EXTERNAL_USER = "scope_external_user_id"


def current_grants_sql(organization_id: str, external_user_id: str) -> str:
    """SQL for an external user's grants as their Scope holds them (`customer_ids`): those on
    customers that are not archived. An archived customer disappears from its external users'
    portals, with its jobs, captures and assets, because no filter below lets it through
    without a grant; its grant rows stay, for the record and for un-archiving. Read once per
    request with the viewer (auth/repository.py), so the filters cost nothing more.
    The arguments are SQL expressions of the organization and external user ids."""
    return (f"SELECT array_agg(g.customer_id ORDER BY g.customer_id) FROM customer_grants g "
            f"JOIN customers c ON c.organization_id = g.organization_id "
            f"AND c.id = g.customer_id AND c.archived_at IS NULL "
            f"WHERE g.organization_id = {organization_id} "
            f"AND g.external_user_id = {external_user_id}")


def parameters(scope: Scope) -> dict[str, Any]:
    """The values of the scope's filters, by parameter name."""
    return {ORGANIZATION: scope.organization_id, GRANTED: sorted(scope.customer_ids),
            EXTERNAL_USER: scope.external_user_id}


def _in_organization(scope: Scope, column: ColumnElement) -> ColumnElement[bool]:
    return column == bindparam(ORGANIZATION, scope.organization_id, type_=column.type)


def _granted(scope: Scope, column: ColumnElement) -> ColumnElement[bool]:
    granted = bindparam(GRANTED, sorted(scope.customer_ids), type_=ARRAY(column.type))
    return column == any_(granted)


def customers_visible(scope: Scope, table=customers) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    condition = _in_organization(scope, table.c.organization_id)
    if scope.external:
        # Archived customers are not among current grants (current_grants_sql); the column
        # says it again where it is free to.
        condition = and_(condition, _granted(scope, table.c.id), table.c.archived_at.is_(None))
    return condition


def jobs_visible(scope: Scope, table=jobs) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    condition = _in_organization(scope, table.c.organization_id)
    if scope.external:
        condition = and_(
            condition,
            _granted(scope, table.c.customer_id),
            table.c.status == models.JobStatus.COMPLETED,
        )
    return condition


def map_captures_visible(scope: Scope, table=map_captures) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    condition = _in_organization(scope, table.c.organization_id)
    if scope.external:
        job = jobs.alias("capture_job")
        linked_job_visible = exists(
            select(1).where(
                job.c.organization_id == table.c.organization_id,
                job.c.id == table.c.job_id,
                jobs_visible(scope, job),
            )
        )
        condition = and_(
            condition,
            _granted(scope, table.c.customer_id),
            or_(table.c.job_id.is_(None), linked_job_visible),
        )
    return condition


def assets_visible(scope: Scope, table=assets) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    condition = _in_organization(scope, table.c.organization_id)
    if scope.external:
        link = job_assets.alias("asset_link")
        job = jobs.alias("asset_job")
        on_visible_job = exists(
            select(1)
            .select_from(link.join(job, and_(job.c.organization_id == link.c.organization_id,
                                             job.c.id == link.c.job_id)))
            .where(
                link.c.organization_id == table.c.organization_id,
                link.c.asset_id == table.c.id,
                jobs_visible(scope, job),
            )
        )
        condition = and_(condition, _granted(scope, table.c.customer_id), on_visible_job)
    return condition


def _owned(scope: Scope, column: ColumnElement) -> ColumnElement[bool]:
    return column == bindparam(EXTERNAL_USER, scope.external_user_id, type_=column.type)


def webhook_endpoints_visible(scope: Scope, table=webhook_endpoints) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    """Staff (admins, by the schema) see the organization's endpoints and every external
    user's; an external user sees only their own."""
    condition = _in_organization(scope, table.c.organization_id)
    if scope.external:
        condition = and_(condition, _owned(scope, table.c.owner_external_user_id))
    return condition


def webhook_deliveries_visible(scope: Scope, table) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    condition = _in_organization(scope, table.c.organization_id)
    if scope.external:
        endpoint = webhook_endpoints.alias("delivery_endpoint")
        condition = and_(condition, exists(select(1).where(
            endpoint.c.organization_id == table.c.organization_id,
            endpoint.c.id == table.c.endpoint_id,
            _owned(scope, endpoint.c.owner_external_user_id))))
    return condition


def tenant(scope: Scope, table) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    """Tables without a rule of their own (staff, invitations, audit, ...) are staff data:
    the organization's staff see its rows, external users see none (deny by default)."""
    if scope.external:
        return false()
    return _in_organization(scope, table.c.organization_id)


VISIBILITY = {
    "customers": customers_visible,
    "jobs": jobs_visible,
    "map_captures": map_captures_visible,
    "assets": assets_visible,
    "webhook_endpoints": webhook_endpoints_visible,
    "webhook_deliveries": webhook_deliveries_visible,
}


def visible(scope: Scope, table) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    """The visibility filter of an entity table (or its alias)."""
    base = getattr(table, "element", table)
    rule = VISIBILITY.get(base.name)
    return rule(scope, table) if rule else tenant(scope, table)


def scoped(scope: Scope, table) -> Select:  # type: ignore[no-untyped-def]
    """SELECT * FROM table WHERE <visible to scope>: the start of every read."""
    return select(table).where(visible(scope, table))


__all__ = ["ANONYMOUS", "Audience", "OrganizationId", "Scope", "Viewer", "admin_scope",
           "parameters", "scope_for", "scoped", "visible"]
