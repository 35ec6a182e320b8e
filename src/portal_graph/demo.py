"""A realistic demo organization, so a new user has something to explore at once."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from portal_graph.accounts import bootstrap, persons
from portal_graph.accounts import repository as accounts
from portal_graph.actor import Actor
from portal_graph.auth.passwords import hash_password
from portal_graph.config import Settings, get_settings
from portal_graph.customers import service as customers
from portal_graph.db import models
from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import SystemContext, system_tenancy
from portal_graph.external_users import repository as external_users
from portal_graph.invitations import service as invitations
from portal_graph.mail.secretbox import SecretBox
from portal_graph.scope import Scope, admin_scope
from portal_graph.work import service as work

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@demo.example", "demo-admin-password"
MANAGER_EMAIL, MANAGER_PASSWORD = "manager@demo.example", "demo-manager-password"
CLIENT_EMAIL, CLIENT_PASSWORD = "client@demo.example", "demo-client-password"
ORGANIZATION = "Evergreen Grounds & Maintenance"
INVITEE_EMAIL = "new.contact@demo.example"

CUSTOMERS = {
    "Riverside Council": [("Play area", "Playground", "RC-PA-01", "Riverside Park, north end"),
                          ("Irrigation pump", "Pump", "RC-IP-07", "Riverside Park depot")],
    "Harbour View Apartments": [("Lift 1", "Lift", "HV-L1", "Block A"),
                                ("Courtyard lawn", "Lawn", None, "Inner courtyard")],
    "Northgate Business Park": [("Car park lighting", "Lighting", "NG-CPL", "Car park B")],
    "St Mary's Primary School": [("Sports field", "Field", None, "Behind main building")],
}
JOBS = [  # customer, title, status, days from now, price
    ("Riverside Council", "Quarterly playground inspection", "COMPLETED", -40, "450.00"),
    ("Riverside Council", "Pump service and filter change", "COMPLETED", -12, "780.50"),
    ("Riverside Council", "Replace worn swing chains", "IN_PROGRESS", 0, "220.00"),
    ("Riverside Council", "Autumn leaf clearance", "SCHEDULED", 9, "1200.00"),
    ("Harbour View Apartments", "Lift safety certification", "COMPLETED", -30, "990.00"),
    ("Harbour View Apartments", "Courtyard mowing", "COMPLETED", -3, "150.00"),
    ("Harbour View Apartments", "Hedge trimming", "CANCELLED", -5, "180.00"),
    ("Northgate Business Park", "Lighting repair, car park B", "COMPLETED", -20, "640.00"),
    ("Northgate Business Park", "Gritting contract start", "SCHEDULED", 30, "2100.00"),
    ("St Mary's Primary School", "Line marking, sports field", "IN_PROGRESS", 1, "560.00"),
]


# Where each customer's site is (a park, flats, a business park, a school in Bristol), as
# (latitude, longitude) of its middle; the captures are drawn around it.
SITES = {
    "Riverside Council": (51.4497, -2.5967),
    "Harbour View Apartments": (51.4489, -2.6063),
    "Northgate Business Park": (51.4794, -2.5702),
    "St Mary's Primary School": (51.4644, -2.6118),
}


def _around(site: tuple[float, float], north_m: float, east_m: float) -> list[float]:
    """[longitude, latitude] of a point `north_m` metres north and `east_m` east of a site."""
    latitude, longitude = site
    return [round(longitude + east_m / (111_320 * math.cos(math.radians(latitude))), 6),
            round(latitude + north_m / 110_540, 6)]


def site_boundary(site: tuple[float, float]) -> dict[str, Any]:
    """The site's outline: a closed ring of about 160 by 110 metres, a little skewed."""
    corners = [(-55, -80), (-60, 75), (50, 85), (58, -70)]
    ring = [_around(site, north, east) for north, east in corners]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def job_geometry(site: tuple[float, float], number: int) -> dict[str, Any]:
    """Where a job's work was: a point (an inspection), a line (a path, a hedge) or an area
    (a lawn, a car park), spread over the site."""
    north, east = ((number * 37) % 90) - 45, ((number * 53) % 120) - 60
    if number % 3 == 0:
        return {"type": "LineString",
                "coordinates": [_around(site, north, east), _around(site, north + 12, east + 30),
                                _around(site, north + 5, east + 55)]}
    if number % 3 == 1:
        return {"type": "Point", "coordinates": _around(site, north, east)}
    ring = [_around(site, north + dn, east + de)
            for dn, de in [(0, 0), (0, 25), (18, 25), (18, 0)]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def anchor(geometry: dict[str, Any]) -> list[float]:
    """The capture's point for a shape: its first position."""
    coordinates = geometry["coordinates"]
    while isinstance(coordinates[0], list):
        coordinates = coordinates[0]
    return coordinates  # type: ignore[no-any-return]


@dataclass(frozen=True)
class DemoLogins:
    organization_id: str
    created: bool


async def seed_demo(sessionmaker: async_sessionmaker[RequestSession],
                    settings: Settings | None = None) -> DemoLogins:
    """Create the demo organization once; later calls find it and change nothing."""
    async with sessionmaker(**system_tenancy(SystemContext.CLI)) as session, session.begin():
        existing = await accounts.organization_of_staff_email(session, ADMIN_EMAIL)
        if existing is not None:
            return DemoLogins(str(existing), created=False)
        org, admin = await bootstrap.create_organization(
            session, name=ORGANIZATION, ttl_days=7, admin_email=ADMIN_EMAIL,
            admin_password=ADMIN_PASSWORD, admin_name="Alex Admin")
        scope = admin_scope(org.id)
        manager = await bootstrap.add_staff_with_operator_password(
            session, scope, email=MANAGER_EMAIL, name="Morgan Manager",
            role=models.Role.MANAGER, password=MANAGER_PASSWORD)
        staff = Actor(person_id=manager.person_id, client_address=None,
                      staff_member_id=manager.id, name=manager.name)
        customer_ids: dict[str, Any] = {}
        asset_ids: dict[str, list[Any]] = {}
        for name, assets in CUSTOMERS.items():
            customer = await customers.create_customer(session, scope, name=name)
            customer_ids[name] = customer.id
            latitude, longitude = SITES[name]
            await work.create_map_capture(
                session, scope, staff, customer_id=customer.id, job_id=None, job_given=False,
                latitude=latitude, longitude=longitude, note=f"Site boundary, {name}",
                geometry=site_boundary(SITES[name]), captured_at=None)
            asset_ids[name] = []
            for asset_name, kind, serial, location in assets:  # type: ignore[misc,attr-defined]
                asset = await work.create_asset(
                    session, scope, customer_id=customer.id, name=asset_name, kind=kind,
                    serial_number=serial, location=location)
                asset_ids[name].append(asset.id)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        for number, (name, title, status, days, price) in enumerate(JOBS, start=1):
            job = await work.create_job(
                session, scope, staff, customer_id=customer_ids[name], title=title,
                reference=f"EGM-{1000 + number}", scheduled_for=now + timedelta(days=days),
                asset_ids=asset_ids[name][:1], price=Decimal(price),
                internal_notes="Gate code 4411; call the site contact first.",
                assigned_staff_ids=[manager.id], status=models.JobStatus(status))
            geometry = job_geometry(SITES[name], number)
            longitude, latitude = anchor(geometry)
            await work.create_map_capture(
                session, scope, staff, customer_id=customer_ids[name], job_id=job.id,
                job_given=True, latitude=latitude, longitude=longitude,
                note=f"Where the work was: {title.lower()}", geometry=geometry,
                captured_at=None)
        tree = _around(SITES["Riverside Council"], 30, -40)
        await work.create_map_capture(
            session, scope, staff, customer_id=customer_ids["Riverside Council"], job_id=None,
            job_given=False, latitude=tree[1], longitude=tree[0], note="Fallen tree reported",
            geometry=None, captured_at=None)
        await _external_client(session, scope, [customer_ids["Riverside Council"],
                                                customer_ids["Harbour View Apartments"]])
        # A pending invitation, sent the way an admin sends one (its email goes to the outbox).
        settings = settings or get_settings()
        await invitations.invite(
            session, scope, Actor(person_id=admin.person_id, client_address=None,
                                  staff_member_id=admin.id, name=admin.name),
            invitations.Mail(settings, SecretBox.from_settings(settings)),
            email=INVITEE_EMAIL, name="Nia Newcomer",
            customer_ids=[customer_ids["Northgate Business Park"]])
        return DemoLogins(str(org.id), created=True)


async def _external_client(session: RequestSession, scope: Scope,
                           customer_ids: list[uuid.UUID]) -> None:
    """A council contact who already accepted an invitation, to show the external portal. Its
    password is the operator's, like the demo staff's: usable in the demo organization only."""
    person_id = await persons.add(
        session, email=CLIENT_EMAIL, email_key=CLIENT_EMAIL, name="Casey Client",
        password_hash=await hash_password(CLIENT_PASSWORD), proven=False,
        set_in_organization_id=scope.organization_id)
    assert person_id is not None, "the demo organization is seeded once"
    external_id = await external_users.add(session, scope, person_id)
    await external_users.grant(session, scope, external_id, customer_ids)
