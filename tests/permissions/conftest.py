"""The cast of the permission tests: one organization with every kind of member, and the admin of
another organization, stored in one transaction.

    org1  customers  C1 "Granted Works" (granted to `external`),
                     C2 "Other Works" (granted to no one)
          jobs       J1 COMPLETED of C1 (asset A1, capture M1 by `user`, `user` assigned)
                     J2 SCHEDULED of C1, J3 COMPLETED of C2 (capture M2)
          people     admin, manager, user, external (C1), external_no_grants (nothing)
          an invitation I1 pending for C1, an audit event E1, an API token of the admin
    org2  other_admin, and nothing else: whatever org1 data they get is a leak
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from portal_graph.auth.tokens import API_TOKEN_PREFIX, new_token, token_digest
from portal_graph.db import models
from tests.permissions.world import InvitationState, JobStatus, Member, Role, World, gid, store

# The audiences of the authorization matrix, in its column order.
AUDIENCES = ("anonymous", "external", "external_no_grants", "user", "manager", "admin",
             "other_admin")


@dataclass
class Cast:
    world: World
    org: uuid.UUID
    other_org: uuid.UUID
    members: dict[str, Member]
    tokens: dict[str, str | None]  # audience -> session token (None: anonymous)
    ids: dict[str, str] = field(default_factory=dict)  # name -> global id
    invitation_token: str = ""
    admin_api_token_id: uuid.UUID | None = None

    def email(self, audience: str) -> str:
        return self.world.persons[self.members[audience].person_id]


def build_cast() -> tuple[World, dict[str, Any]]:
    w = World()
    org, other = w.organization(), w.organization()
    c1, c2 = w.customer(org, "Granted Works"), w.customer(org, "Other Works")
    a1 = w.asset(c1)
    j1 = w.job(c1, JobStatus.COMPLETED, (a1,))
    j2 = w.job(c1, JobStatus.SCHEDULED)
    j3 = w.job(c2, JobStatus.COMPLETED)
    members = {
        "admin": w.staff_member(org, Role.ADMIN),
        "manager": w.staff_member(org, Role.MANAGER),
        "user": w.staff_member(org, Role.USER),
        "external": w.external(org, {c1}),
        "external_no_grants": w.external(org),
        "other_admin": w.staff_member(other, Role.ADMIN),
    }
    w.assign(j1, members["user"])
    m1 = w.capture(c1, j1, captured_by=members["user"].id)
    m2 = w.capture(c2, j3)
    i1 = w.invitation(org, {c1}, InvitationState.PENDING)
    e1 = w.audit_event(org)
    names = {"org": org, "other_org": other, "c1": c1, "c2": c2, "a1": a1, "j1": j1, "j2": j2,
             "j3": j3, "m1": m1, "m2": m2, "i1": i1, "e1": e1, "members": members}
    return w, names


@pytest.fixture
async def cast(sessionmaker: Any, engine: Any) -> Cast:
    world, n = build_cast()
    members: dict[str, Member] = n["members"]
    api_token_id = models.new_id()
    tokens = await store(sessionmaker, world, [(models.ApiToken, [{
        "organization_id": n["org"], "id": api_token_id,
        "person_id": members["admin"].person_id, "name": "admin's integration",
        "token_hash": token_digest(new_token(API_TOKEN_PREFIX)),
        "expires_at": datetime.now(UTC) + timedelta(days=30)}])])
    ids = {
        "org": gid("Organization", n["org"]), "other_org": gid("Organization", n["other_org"]),
        "c1": gid("Customer", n["c1"]), "c2": gid("Customer", n["c2"]),
        "a1": gid("Asset", n["a1"]), "j1": gid("Job", n["j1"]), "j2": gid("Job", n["j2"]),
        "j3": gid("Job", n["j3"]), "m1": gid("MapCapture", n["m1"]),
        "m2": gid("MapCapture", n["m2"]), "i1": gid("Invitation", n["i1"]),
        "e1": gid("AuditEvent", n["e1"]), "api_token": gid("ApiToken", api_token_id),
        "staff_user": gid("StaffMember", members["user"].id),
        "external_user": gid("ExternalUser", members["external"].id),
        "unknown_job": gid("Job", uuid.uuid4()),
    }
    return Cast(world=world, org=n["org"], other_org=n["other_org"], members=members,
                tokens={"anonymous": None, **{a: tokens[m.id] for a, m in members.items()}},
                ids=ids, invitation_token=world.invitations[n["i1"]].token,
                admin_api_token_id=api_token_id)
