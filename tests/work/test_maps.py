"""Maps: captures within a map's visible area, as GeoJSON, through every scope; geometry
checked strictly before it is stored."""

from __future__ import annotations

import pytest

from portal_graph.db import models
from portal_graph.graphql.core.relay import to_global_id
from portal_graph.work.geometry import Box, checked_geometry

WITHIN = """query($within: BoundingBox) {
  mapCaptures(first: 50, within: $within) {
    nodes { id note } totalCount geoJson } }"""
NESTED = """query($c: ID!, $j: ID!, $within: BoundingBox) {
  customer(id: $c) { mapCaptures(within: $within) { nodes { note } } }
  job(id: $j) { mapCaptures(within: $within) { nodes { note } } } }"""
CREATE_CAPTURE = """mutation($input: CreateMapCaptureInput!) { createMapCapture(input: $input)
  { mapCapture { geometry } userErrors { code field message } } }"""
LONDON = {"south": 51.45, "west": -0.25, "north": 51.55, "east": 0.0}


@pytest.fixture
async def town(make):
    """Captures in London and in Edinburgh, of a granted customer (one on a scheduled job,
    so hidden from the external user) and of another customer; one across the antimeridian."""
    org = await make.organization()
    granted, other = await make.customer(org), await make.customer(org)
    done = await make.job(org, granted, models.JobStatus.COMPLETED)
    planned = await make.job(org, granted, models.JobStatus.SCHEDULED)
    for customer, job, lat, lon, note in [
            (granted, done, 51.50, -0.12, "london-done"),
            (granted, planned, 51.51, -0.10, "london-planned"),
            (granted, None, 51.52, -0.20, "london-loose"),
            (other, None, 51.49, -0.05, "london-other"),
            (granted, None, 55.95, -3.19, "edinburgh"),
            (granted, None, -17.7, 179.9, "fiji")]:
        geometry = ({"type": "Polygon", "coordinates": [[[lon, lat], [lon + 0.001, lat],
                                                         [lon, lat + 0.001], [lon, lat]]]}
                    if note == "london-done" else None)
        await make.capture(org, customer, job, latitude=lat, longitude=lon, note=note,
                           geometry=geometry)
    admin = await make.staff(org, models.Role.ADMIN)
    external = await make.external(org, [granted])
    return {"org": org, "granted": granted, "done": done,
            "admin": await make.session_token(org, admin["person"]["id"]),
            "external": await make.session_token(org, external["person"]["id"])}


def _notes(result):
    return sorted(node["note"] for node in result["data"]["mapCaptures"]["nodes"])


async def test_within_a_box_staff_see_every_capture_in_it(api, town):
    result = await api(WITHIN, {"within": LONDON}, token=town["admin"])
    assert _notes(result) == ["london-done", "london-loose", "london-other", "london-planned"]
    assert result["data"]["mapCaptures"]["totalCount"] == 4


async def test_an_external_user_sees_only_their_visible_captures_in_the_box(api, town):
    result = await api(WITHIN, {"within": LONDON}, token=town["external"])
    assert _notes(result) == ["london-done", "london-loose"]
    everywhere = await api(WITHIN, {"within": None}, token=town["external"])
    assert _notes(everywhere) == ["edinburgh", "fiji", "london-done", "london-loose"]


async def test_a_box_across_the_antimeridian(api, town):
    pacific = {"south": -20, "west": 170, "north": -10, "east": -170}
    assert _notes(await api(WITHIN, {"within": pacific}, token=town["admin"])) == ["fiji"]


async def test_geojson_is_a_feature_collection_of_the_page(api, town):
    result = await api(WITHIN, {"within": LONDON}, token=town["external"])
    collection = result["data"]["mapCaptures"]["geoJson"]
    assert collection["type"] == "FeatureCollection"
    by_note = {f["properties"]["note"]: f for f in collection["features"]}
    assert set(by_note) == {"london-done", "london-loose"}
    done, loose = by_note["london-done"], by_note["london-loose"]
    assert done["type"] == "Feature" and done["geometry"]["type"] == "Polygon"
    assert done["properties"]["jobId"] == to_global_id("Job", town["done"])
    assert done["properties"]["customerId"] == to_global_id("Customer", town["granted"])
    assert loose["geometry"] == {"type": "Point", "coordinates": [-0.2, 51.52]}
    assert loose["properties"]["jobId"] is None
    ids = {node["id"] for node in result["data"]["mapCaptures"]["nodes"]}
    assert {f["id"] for f in collection["features"]} == ids


async def test_within_on_a_customer_and_a_job(api, town):
    variables = {"c": to_global_id("Customer", town["granted"]),
                 "j": to_global_id("Job", town["done"]), "within": LONDON}
    result = await api(NESTED, variables, token=town["external"])
    assert [n["note"] for n in result["data"]["customer"]["mapCaptures"]["nodes"]] == [
        "london-loose", "london-done"]
    assert [n["note"] for n in result["data"]["job"]["mapCaptures"]["nodes"]] == ["london-done"]
    unboxed = await api(NESTED, {**variables, "within": None}, token=town["external"])
    assert len(unboxed["data"]["customer"]["mapCaptures"]["nodes"]) == 4


@pytest.mark.parametrize("box", [
    {"south": 52, "west": 0, "north": 51, "east": 1},
    {"south": -91, "west": 0, "north": 0, "east": 1},
    {"south": 0, "west": -181, "north": 1, "east": 1},
])
async def test_a_bad_box_is_bad_user_input(api, town, box):
    result = await api(WITHIN, {"within": box}, token=town["admin"])
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


GOOD = [
    {"type": "Point", "coordinates": [-0.12, 51.5]},
    {"type": "Point", "coordinates": [-0.12, 51.5, 12.5]},
    {"type": "LineString", "coordinates": [[-0.12, 51.5], [-0.11, 51.51]]},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
    {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]},
    {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [0, 0]}]},
]
BAD = [
    "not an object",
    {"type": "Circle", "coordinates": [0, 0], "radius": 5},
    {"type": "Point"},
    {"type": "Point", "coordinates": [1]},
    {"type": "Point", "coordinates": ["a", "b"]},
    {"type": "Point", "coordinates": [181, 0]},
    {"type": "Point", "coordinates": [0, 91]},
    {"type": "Point", "coordinates": [0, 0], "properties": {}},
    {"type": "LineString", "coordinates": [[0, 0]]},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},  # not closed
    {"type": "GeometryCollection", "geometries": []},
    {"type": "GeometryCollection", "geometries": [
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [0, 0]}]}]},
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]}},
    {"type": "MultiPoint", "coordinates": [[0, 0]] * 20_000},  # too large
]


@pytest.mark.parametrize("geometry", GOOD)
def test_good_geometry_is_kept_as_given(geometry):
    assert checked_geometry(geometry) == geometry


@pytest.mark.parametrize("geometry", BAD)
def test_bad_geometry_is_refused(geometry):
    from portal_graph.problems import Rejected, UserErrorCode

    with pytest.raises(Rejected) as refused:
        checked_geometry(geometry)
    assert refused.value.problems[0].code is UserErrorCode.INVALID_GEOMETRY


async def test_bad_geometry_is_a_user_error_of_the_mutation(api, town):
    staff_token = town["admin"]
    customer = to_global_id("Customer", town["granted"])
    result = await api(CREATE_CAPTURE, {"input": {
        "customerId": customer, "latitude": 51.5, "longitude": -0.1,
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]}}},
        token=staff_token)
    payload = result["data"]["createMapCapture"]
    assert payload["mapCapture"] is None
    assert payload["userErrors"][0]["code"] == "INVALID_GEOMETRY"
    assert payload["userErrors"][0]["field"] == ["input", "geometry"]
    good = await api(CREATE_CAPTURE, {"input": {
        "customerId": customer, "latitude": 51.5, "longitude": -0.1, "geometry": GOOD[3]}},
        token=staff_token)
    assert good["data"]["createMapCapture"]["mapCapture"]["geometry"] == GOOD[3]


def test_a_box_checks_its_edges():
    assert Box(1, 170, 2, -170).crosses_antimeridian
    assert not Box(1, -1, 2, 1).crosses_antimeridian


async def test_the_demo_draws_each_customer_s_site(sessionmaker, app_sessionmaker, settings,
                                                   api, engine):
    from portal_graph.demo import CLIENT_EMAIL, CLIENT_PASSWORD, SITES, seed_demo

    await seed_demo(app_sessionmaker, settings)
    login = await api("""mutation($e: String!, $p: String!) {
        login(input: {email: $e, password: $p}) { token } }""",
                      {"e": CLIENT_EMAIL, "p": CLIENT_PASSWORD})
    token = login["data"]["login"]["token"]
    latitude, longitude = SITES["Riverside Council"]
    around = {"south": latitude - 0.01, "west": longitude - 0.01,
              "north": latitude + 0.01, "east": longitude + 0.01}
    result = await api(WITHIN, {"within": around}, token=token)
    features = result["data"]["mapCaptures"]["geoJson"]["features"]
    kinds = {f["geometry"]["type"] for f in features}
    assert "Polygon" in kinds and "Point" in kinds
    assert any(f["properties"]["note"] == "Site boundary, Riverside Council" for f in features)
    for feature in features:  # every shape is where its site is, and valid
        checked_geometry(feature["geometry"])
