"""Map geometry: GeoJSON geometry objects, checked strictly before they are stored.

A geometry is checked by the `geojson` package (RFC 7946 structure: positions of 2 or 3
numbers, lines of two or more positions, closed linear rings of four or more), and more:
finite WGS 84 coordinates (longitude -180..180, latitude -90..90), only the members a geometry
has (`type`, `coordinates` or `geometries`, `bbox`), collections not nested, and a size limit.
A bad one is the user error INVALID_GEOMETRY, naming what is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import geojson
import orjson

from portal_graph.problems import Rejected, UserErrorCode


class BadBox(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Box:
    """A map's visible area in WGS 84 degrees. `west` > `east` is a box across the
    antimeridian (from 170 to -170 is 20 degrees wide)."""

    south: float
    west: float
    north: float
    east: float

    def __post_init__(self) -> None:
        values = (self.south, self.west, self.north, self.east)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise BadBox("The box's edges must be finite numbers.")
        if not (-90 <= self.south <= self.north <= 90):
            raise BadBox("Latitudes run -90 to 90, and `south` may not be north of `north`.")
        if not (-180 <= self.west <= 180 and -180 <= self.east <= 180):
            raise BadBox("Longitudes run -180 to 180.")

    @property
    def crosses_antimeridian(self) -> bool:
        return self.west > self.east

SIMPLE_TYPES = frozenset({"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                          "MultiPolygon"})
MAX_BYTES = 100_000
MAX_MEMBERS_OF_COLLECTION = 100


def bad_geometry(message: str, field: str = "geometry") -> Rejected:
    return Rejected(UserErrorCode.INVALID_GEOMETRY, message, field)


def checked_geometry(value: Any, field: str = "geometry") -> dict[str, Any] | None:
    """`value` as a GeoJSON geometry object fit to store (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_geometry("Geometry must be a GeoJSON geometry object.", field)
    try:
        size = len(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        raise bad_geometry("Geometry must be plain JSON.", field) from None
    if size > MAX_BYTES:
        raise bad_geometry(f"Geometry is too large (over {MAX_BYTES} bytes).", field)
    _check(value, field, nested=False)
    return value


def _check(value: Any, field: str, *, nested: bool) -> None:
    if not isinstance(value, dict):
        raise bad_geometry("Each geometry must be a GeoJSON geometry object.", field)
    kind = value.get("type")
    if kind == "GeometryCollection":
        if nested:
            raise bad_geometry("A GeometryCollection may not hold another.", field)
        _only(value, {"type", "geometries", "bbox"}, field)
        members = value.get("geometries")
        if not isinstance(members, list) or not members:
            raise bad_geometry("A GeometryCollection needs a non-empty `geometries` array.",
                               field)
        if len(members) > MAX_MEMBERS_OF_COLLECTION:
            raise bad_geometry(f"At most {MAX_MEMBERS_OF_COLLECTION} geometries in a "
                               "collection.", field)
        for member in members:
            _check(member, field, nested=True)
        return
    if kind not in SIMPLE_TYPES:
        raise bad_geometry("Geometry `type` must be one of Point, MultiPoint, LineString, "
                           "MultiLineString, Polygon, MultiPolygon, GeometryCollection.", field)
    _only(value, {"type", "coordinates", "bbox"}, field)
    try:
        parsed = geojson.GeoJSON.to_instance(value, strict=True)
        problem = parsed.errors()
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as error:
        raise bad_geometry(f"Not a valid {kind}: {error}"[:200], field) from None
    if problem:
        raise bad_geometry(f"Not a valid {kind}: {problem}"[:200], field)
    for longitude, latitude, *_ in _positions(value["coordinates"]):
        if not (math.isfinite(longitude) and math.isfinite(latitude)
                and -180 <= longitude <= 180 and -90 <= latitude <= 90):
            raise bad_geometry("Positions are [longitude, latitude] in WGS 84: longitude "
                               "-180 to 180, latitude -90 to 90.", field)


def _only(value: dict[str, Any], allowed: set[str], field: str) -> None:
    extra = sorted(set(value) - allowed)
    if extra:
        raise bad_geometry(f"Unexpected member(s) in the geometry: {', '.join(extra)[:80]}.",
                           field)


def _positions(coordinates: Any) -> Iterable[list[float]]:
    """Every position of a (valid) coordinates array, however deep."""
    if coordinates and isinstance(coordinates[0], int | float):
        yield coordinates
        return
    for part in coordinates:
        yield from _positions(part)
