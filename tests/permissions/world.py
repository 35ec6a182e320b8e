"""A world of organizations, people and work, kept in memory and stored in one transaction.

The in-memory copy is what the oracle (oracle.py) reads; `store` writes the same rows with a
handful of bulk inserts, so a generated world costs one round trip per table, not per row.
Every row gets a readable label ("org2/J3:COMPLETED") so that a failing comparison says which
object leaked or went missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from portal_graph.auth.tokens import (
    INVITATION_PREFIX,
    SESSION_PREFIX,
    new_token,
    token_digest,
)
from portal_graph.db import models
from portal_graph.db.models import InvitationState, JobStatus, Role
from portal_graph.graphql.core.relay import to_global_id
from tests.factories import PASSWORD_HASH

__all__ = ["InvitationState", "JobStatus", "Member", "Role", "World", "gid", "store"]


@dataclass(frozen=True)
class Customer:
    organization_id: uuid.UUID
    name: str
    archived: bool = False


@dataclass(frozen=True)
class Job:
    organization_id: uuid.UUID
    customer_id: uuid.UUID
    status: JobStatus


@dataclass(frozen=True)
class Asset:
    organization_id: uuid.UUID
    customer_id: uuid.UUID


@dataclass(frozen=True)
class Capture:
    organization_id: uuid.UUID
    customer_id: uuid.UUID
    job_id: uuid.UUID | None
    captured_by: uuid.UUID | None = None


@dataclass(frozen=True)
class Invitation:
    organization_id: uuid.UUID
    email: str
    state: InvitationState
    customers: frozenset[uuid.UUID]
    token: str  # the raw token of its link


@dataclass(frozen=True)
class Member:
    """A membership: who acts, in which organization; `role` None for an external user."""

    id: uuid.UUID
    organization_id: uuid.UUID
    person_id: uuid.UUID
    role: Role | None

    @property
    def is_external(self) -> bool:
        return self.role is None


@dataclass
class World:
    organizations: list[uuid.UUID] = field(default_factory=list)
    persons: dict[uuid.UUID, str] = field(default_factory=dict)  # id -> email
    customers: dict[uuid.UUID, Customer] = field(default_factory=dict)
    jobs: dict[uuid.UUID, Job] = field(default_factory=dict)
    assets: dict[uuid.UUID, Asset] = field(default_factory=dict)
    links: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)  # (job, asset)
    captures: dict[uuid.UUID, Capture] = field(default_factory=dict)
    staff: dict[uuid.UUID, Member] = field(default_factory=dict)
    externals: dict[uuid.UUID, Member] = field(default_factory=dict)
    grants: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)  # (external, customer)
    assignments: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)  # (job, staff)
    invitations: dict[uuid.UUID, Invitation] = field(default_factory=dict)
    audit_events: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # id -> organization
    deactivated: set[uuid.UUID] = field(default_factory=set)  # staff members acting for nobody
    labels: dict[uuid.UUID, str] = field(default_factory=dict)

    # --- building ----------------------------------------------------------------------

    def _new(self, label: str) -> uuid.UUID:
        id_ = models.new_id()
        self.labels[id_] = label
        return id_

    def _org_label(self, organization_id: uuid.UUID) -> str:
        return self.labels[organization_id]

    def organization(self) -> uuid.UUID:
        org = self._new(f"org{len(self.organizations) + 1}")
        self.organizations.append(org)
        return org

    def person(self) -> uuid.UUID:
        person = self._new(f"person{len(self.persons) + 1}")
        self.persons[person] = f"{self.labels[person]}-{person.hex}@example.com"
        return person

    def customer(self, org: uuid.UUID, name: str | None = None,
                 archived: bool = False) -> uuid.UUID:
        n = sum(c.organization_id == org for c in self.customers.values()) + 1
        id_ = self._new(f"{self._org_label(org)}/C{n}")
        self.customers[id_] = Customer(org, name or f"Customer {self.labels[id_]}", archived)
        return id_

    def job(self, customer: uuid.UUID, status: JobStatus,
            assets: tuple[uuid.UUID, ...] = ()) -> uuid.UUID:
        org = self.customers[customer].organization_id
        n = sum(j.organization_id == org for j in self.jobs.values()) + 1
        id_ = self._new(f"{self._org_label(org)}/J{n}:{status.value}")
        self.jobs[id_] = Job(org, customer, status)
        self.links.update((id_, a) for a in assets)
        return id_

    def asset(self, customer: uuid.UUID) -> uuid.UUID:
        org = self.customers[customer].organization_id
        n = sum(a.organization_id == org for a in self.assets.values()) + 1
        id_ = self._new(f"{self._org_label(org)}/A{n}")
        self.assets[id_] = Asset(org, customer)
        return id_

    def capture(self, customer: uuid.UUID, job: uuid.UUID | None = None,
                captured_by: uuid.UUID | None = None) -> uuid.UUID:
        org = self.customers[customer].organization_id
        n = sum(m.organization_id == org for m in self.captures.values()) + 1
        id_ = self._new(f"{self._org_label(org)}/M{n}")
        self.captures[id_] = Capture(org, customer, job, captured_by)
        return id_

    def staff_member(self, org: uuid.UUID, role: Role,
                     person: uuid.UUID | None = None) -> Member:
        person = person or self.person()
        id_ = self._new(f"{self._org_label(org)}/staff:{role.value}")
        self.staff[id_] = member = Member(id_, org, person, role)
        return member

    def external(self, org: uuid.UUID,
                 customers: set[uuid.UUID] | frozenset[uuid.UUID] = frozenset(),
                 person: uuid.UUID | None = None) -> Member:
        person = person or self.person()
        n = sum(e.organization_id == org for e in self.externals.values()) + 1
        id_ = self._new(f"{self._org_label(org)}/ext{n}")
        self.externals[id_] = member = Member(id_, org, person, None)
        self.grants.update((id_, c) for c in customers)
        return member

    def deactivate(self, staff: Member) -> Member:
        """The member stays (colleagues still see them), but acts for nobody."""
        self.deactivated.add(staff.id)
        self.labels[staff.id] += ":deactivated"
        return staff

    def assign(self, job: uuid.UUID, staff: Member) -> None:
        self.assignments.add((job, staff.id))

    def invitation(self, org: uuid.UUID, customers: set[uuid.UUID] | frozenset[uuid.UUID],
                   state: InvitationState = InvitationState.PENDING) -> uuid.UUID:
        n = sum(i.organization_id == org for i in self.invitations.values()) + 1
        id_ = self._new(f"{self._org_label(org)}/I{n}:{state.value}")
        email = f"invitee-{id_.hex}@example.com"
        self.invitations[id_] = Invitation(org, email, state, frozenset(customers),
                                           new_token(INVITATION_PREFIX))
        return id_

    def audit_event(self, org: uuid.UUID) -> uuid.UUID:
        n = sum(o == org for o in self.audit_events.values()) + 1
        id_ = self._new(f"{self._org_label(org)}/E{n}")
        self.audit_events[id_] = org
        return id_

    def __repr__(self) -> str:
        """The world by labels, one organization per line (hypothesis prints it on failure)."""
        L = self.labels

        def names(ids: object) -> str:
            return ",".join(sorted(L[i] for i in ids))  # type: ignore[attr-defined]

        lines = []
        for org in self.organizations:
            parts = [f"{L[c]}" for c, row in self.customers.items() if row.organization_id == org]
            for j, row in self.jobs.items():
                if row.organization_id == org:
                    linked = names(a for j2, a in self.links if j2 == j)
                    parts.append(f"{L[j]}<{L[row.customer_id]} assets:{linked}>")
            parts += [f"{L[a]}<{L[row.customer_id]}>" for a, row in self.assets.items()
                      if row.organization_id == org]
            parts += [f"{L[m]}<{L[row.customer_id]} job:{L[row.job_id] if row.job_id else '-'}>"
                      for m, row in self.captures.items() if row.organization_id == org]
            parts += [f"{L[m.id]}({L[m.person_id]})" for m in self.staff.values()
                      if m.organization_id == org]
            parts += [f"{L[m.id]}({L[m.person_id]}) grants:{names(self.granted(m))}"
                      for m in self.externals.values() if m.organization_id == org]
            parts += [f"{L[i]}<{names(row.customers)}>" for i, row in self.invitations.items()
                      if row.organization_id == org]
            lines.append(f"{L[org]}: " + "; ".join(parts))
        return "World(\n  " + "\n  ".join(lines) + ")"

    # --- reading -----------------------------------------------------------------------

    @property
    def members(self) -> list[Member]:
        return [*self.staff.values(), *self.externals.values()]

    def granted(self, external: Member) -> set[uuid.UUID]:
        return {c for e, c in self.grants if e == external.id}

    def typed_ids(self) -> list[tuple[str, uuid.UUID]]:
        """Every id of the world with the GraphQL type name its global id carries."""
        groups: list[tuple[str, object]] = [
            ("Organization", self.organizations), ("Person", self.persons),
            ("Customer", self.customers), ("Job", self.jobs), ("Asset", self.assets),
            ("MapCapture", self.captures), ("StaffMember", self.staff),
            ("ExternalUser", self.externals), ("Invitation", self.invitations),
            ("AuditEvent", self.audit_events),
        ]
        return [(name, id_) for name, ids in groups for id_ in ids]  # type: ignore[attr-defined]


ARCHIVED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def gid(type_name: str, id_: uuid.UUID) -> str:
    return to_global_id(type_name, id_)


# --- storing -----------------------------------------------------------------------------


def _rows(world: World) -> list[tuple[type, list[dict[str, object]]]]:  # (model, rows)
    """(model, rows) in foreign-key order."""
    done_at = datetime.now(UTC) - timedelta(days=1)
    later = datetime.now(UTC) + timedelta(days=7)
    return [
        (models.Organization, [{"id": o, "name": world.labels[o], "invitation_ttl_days": 7}
                               for o in world.organizations]),
        (models.Person, [{"id": p, "email": e, "email_normalized": e.lower(),
                          "name": world.labels[p], "password_hash": PASSWORD_HASH}
                         for p, e in world.persons.items()]),
        (models.StaffMember, [{"organization_id": m.organization_id, "id": m.id,
                               "person_id": m.person_id, "role": m.role,
                               "deactivated_at": done_at if m.id in world.deactivated else None}
                              for m in world.staff.values()]),
        (models.ExternalUser, [{"organization_id": m.organization_id, "id": m.id,
                                "person_id": m.person_id} for m in world.externals.values()]),
        (models.Customer, [{"organization_id": c.organization_id, "id": id_, "name": c.name,
                            "archived_at": ARCHIVED_AT if c.archived else None}
                           for id_, c in world.customers.items()]),
        (models.CustomerGrant, [{"organization_id": world.externals[e].organization_id,
                                 "external_user_id": e, "customer_id": c}
                                for e, c in world.grants]),
        (models.Job, [{"organization_id": j.organization_id, "id": id_,
                       "customer_id": j.customer_id, "reference": world.labels[id_],
                       "title": f"Work {world.labels[id_]}", "status": j.status,
                       "completed_at": done_at if j.status is JobStatus.COMPLETED else None,
                       "internal_notes": "staff only", "price": Decimal("100.00")}
                      for id_, j in world.jobs.items()]),
        (models.JobAssignment, [{"organization_id": world.jobs[j].organization_id,
                                 "job_id": j, "staff_member_id": s}
                                for j, s in world.assignments]),
        (models.Asset, [{"organization_id": a.organization_id, "id": id_,
                         "customer_id": a.customer_id, "name": world.labels[id_]}
                        for id_, a in world.assets.items()]),
        (models.JobAsset, [{"organization_id": world.jobs[j].organization_id, "job_id": j,
                            "asset_id": a} for j, a in world.links]),
        (models.MapCapture, [{"organization_id": m.organization_id, "id": id_,
                              "customer_id": m.customer_id, "job_id": m.job_id,
                              "latitude": 51.5, "longitude": -0.1,
                              "captured_by_id": m.captured_by}
                             for id_, m in world.captures.items()]),
        (models.Invitation, [{"organization_id": i.organization_id, "id": id_,
                              "email": i.email, "email_normalized": i.email, "state": i.state,
                              "token_hash": token_digest(i.token), "expires_at": later,
                              "accepted_at": done_at if i.state is InvitationState.ACCEPTED
                              else None,
                              "revoked_at": done_at if i.state is InvitationState.REVOKED
                              else None}
                             for id_, i in world.invitations.items()]),
        (models.InvitationCustomer, [{"organization_id": i.organization_id,
                                      "invitation_id": id_, "customer_id": c}
                                     for id_, i in world.invitations.items()
                                     for c in i.customers]),
        (models.AuditEvent, [{"organization_id": org, "id": id_, "action": "INVITATION_SENT",
                              "target_email": f"{world.labels[id_]}@example.com"}
                             for id_, org in world.audit_events.items()]),
    ]


Rows = list[dict[str, object]]


async def store(sessionmaker: async_sessionmaker, world: World,
                extra: Sequence[tuple[type, Rows]] = ()) -> dict[uuid.UUID, str]:
    """Insert the world (and `extra` rows, in the same transaction); return a fresh session
    token for every membership (by member id)."""
    tokens = {m.id: new_token(SESSION_PREFIX) for m in world.members}
    expires = datetime.now(UTC) + timedelta(days=1)
    sessions = [{"organization_id": m.organization_id, "id": models.new_id(),
                 "person_id": m.person_id, "token_hash": token_digest(tokens[m.id]),
                 "expires_at": expires} for m in world.members]
    async with sessionmaker() as session, session.begin():
        for model, rows in [*_rows(world), (models.Session, sessions), *extra]:
            if rows:
                await session.execute(insert(model), rows)
    return tokens
