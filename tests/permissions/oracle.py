"""docs/RULES.md in plain Python: what one member may see of a world.

Written from the visibility table, not from scope.py, so that the two can disagree:

| data         | staff (ADMIN, MANAGER, USER) | external user                                   |
|--------------|------------------------------|-------------------------------------------------|
| customers    | all of the org               | only granted ones, not archived                 |
| jobs         | all, any status              | only COMPLETED, of granted customers            |
| map captures | all                          | of granted customers, no job or a completed job |
| assets       | all                          | of granted customers, linked to a visible job   |
| employees    | yes                          | no                                              |

An archived customer's jobs, captures and assets go with it (issue 13: "an archived customer
disappears from external users' portals"). And, for ADMIN only, the organization's external
users, invitations and audit log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from tests.permissions.world import JobStatus, Member, Role, World


@dataclass(frozen=True)
class Sight:
    customers: frozenset[uuid.UUID]
    jobs: frozenset[uuid.UUID]
    captures: frozenset[uuid.UUID]
    assets: frozenset[uuid.UUID]
    staff: frozenset[uuid.UUID]
    external_users: frozenset[uuid.UUID] = frozenset()  # ADMIN only, as the next two
    invitations: frozenset[uuid.UUID] = frozenset()
    audit_events: frozenset[uuid.UUID] = frozenset()

    def nodes(self) -> frozenset[uuid.UUID]:
        """Every id `node(id:)` should return for this member."""
        return (self.customers | self.jobs | self.captures | self.assets | self.staff
                | self.external_users | self.invitations | self.audit_events)


def sight(world: World, member: Member) -> Sight:
    """What `member` may see."""
    org = member.organization_id
    own = [c for c, row in world.customers.items() if row.organization_id == org]

    if not member.is_external:
        def everything(rows: dict) -> frozenset[uuid.UUID]:  # type: ignore[type-arg]
            return frozenset(i for i, row in rows.items() if row.organization_id == org)

        staff = Sight(customers=frozenset(own), jobs=everything(world.jobs),
                      captures=everything(world.captures), assets=everything(world.assets),
                      staff=everything(world.staff))
        if member.role is not Role.ADMIN:
            return staff
        return replace(staff, external_users=everything(world.externals),
                       invitations=everything(world.invitations),
                       audit_events=frozenset(e for e, o in world.audit_events.items()
                                              if o == org))

    granted = {c for c in world.granted(member) & set(own)
               if not world.customers[c].archived}
    jobs = frozenset(j for j, row in world.jobs.items()
                     if row.organization_id == org and row.customer_id in granted
                     and row.status is JobStatus.COMPLETED)
    captures = frozenset(m for m, row in world.captures.items()
                         if row.organization_id == org and row.customer_id in granted
                         and (row.job_id is None or row.job_id in jobs))
    assets = frozenset(a for a, row in world.assets.items()
                       if row.organization_id == org and row.customer_id in granted
                       and any((j, a) in world.links for j in jobs))
    return Sight(customers=frozenset(granted), jobs=jobs, captures=captures, assets=assets,
                 staff=frozenset())
