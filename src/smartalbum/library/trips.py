"""Trips: photos taken far from home, grouped by time and place, with a title and a summary.

**Home** is set by the user — on the trips page (stored in the catalog, per library:
:func:`store_home`), with ``SMARTALBUM_TRIPS__HOME="43.46,11.88"`` or ``--home`` — or
learned from the catalog: the place where photos were taken on the most *distinct days*
(:func:`learn_home`). Counting days rather than photos is what makes it "home over time":
a holiday with 900 photos in one week loses to a year of a few photos a week at home.
Positions are binned on a ~:data:`HOME_CELL_KM` km grid and each cell is scored with its 8
neighbours, so a home on a cell border is not split in two.

**Trips** (:func:`find_trips`): photos farther than :data:`RADIUS_KM` (50 km: beyond a
daily commute or an afternoon out in most places, and well above GPS error) from home, in
time order. A trip ends when more than :data:`GAP_HOURS` (36 h: a night or two without
photos does not end a holiday, a week does) pass without a far photo, or when a photo is
taken at home in between (the user came back). Trips with fewer than :data:`MIN_PHOTOS`
located photos are dropped as noise (a single shot on a day out is not a trip). Photos
without GPS join the trip whose time span contains them *when the same camera* took located
photos on that trip (a phone with location off at home is not on holiday just because
another camera is).

**Titles** name up to three of the most photographed places in the order they were first
visited and the month(s): "Arezzo and Florence, May 2024". The scene classes are counted
per trip; the user's correction wins over the prediction and uncertain predictions are
counted apart.

Times are the cameras' local wall-clock times (``taken_at``), which is what a person means
by "the 3rd of May", and what the cameras of one person agree on.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from smartalbum.library.catalog import PhotoRecord

EARTH_RADIUS_KM = 6371.0088
RADIUS_KM = 50.0
GAP_HOURS = 36.0
MIN_PHOTOS = 3
HOME_CELL_KM = 10.0
_KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180.0

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Home:
    """Where the user lives, and how we know."""

    latitude: float
    longitude: float
    source: Literal["user", "learned", "library"]
    days: int = 0  # distinct days with photos near it (learned homes)
    photos: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "latitude": round(self.latitude, 5),
            "longitude": round(self.longitude, 5),
            "source": self.source,
            "days": self.days,
            "photos": self.photos,
            "name": place_name(self.latitude, self.longitude),
        }


@dataclass
class Trip:
    """One trip: its photos (chronological), places, scene classes and title."""

    id: str
    title: str
    start: datetime
    end: datetime
    photo_ids: list[int]
    joined_ids: list[int]  # photos without GPS that joined by camera and time
    places: list[tuple[str, int]]  # (place, located photos), most photographed first
    labels: dict[str, int]
    uncertain: int
    latitude: float  # centroid of the located photos
    longitude: float
    farthest_km: float
    cameras: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "photos": len(self.photo_ids),
            "photo_ids": self.photo_ids,
            "joined_without_gps": self.joined_ids,
            "places": [{"name": n, "photos": c} for n, c in self.places],
            "labels": self.labels,
            "uncertain": self.uncertain,
            "centroid": [round(self.latitude, 5), round(self.longitude, 5)],
            "farthest_km": round(self.farthest_km, 1),
            "cameras": self.cameras,
        }


# --------------------------------------------------------------------------- geometry


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance in km (numpy-vectorised; floats in, float out)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def parse_home(text: str) -> tuple[float, float]:
    """``"43.46,11.88"`` -> (43.46, 11.88); ValueError for anything else."""
    parts = [p.strip() for p in text.replace(";", ",").split(",")]
    if len(parts) != 2:
        raise ValueError(f"expected LAT,LON, got {text!r}")
    lat, lon = float(parts[0]), float(parts[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"LAT must be in -90..90 and LON in -180..180, got {text!r}")
    return lat, lon


# --------------------------------------------------------------------------- home

#: The catalog's setting (library/schema_settings.py) holding the home set on the page.
HOME_SETTING = "trips.home"


def place_name(latitude: float, longitude: float) -> str | None:
    """ "Arezzo, Tuscany, IT" for a position (offline GeoNames), or None when far from any
    town or when the places table is not installed (raw coordinates are shown then)."""
    from smartalbum.library.places import PlacesUnavailableError, reverse_geocode

    try:
        place = reverse_geocode(latitude, longitude)
    except PlacesUnavailableError:
        return None
    return place.label() if place is not None else None


def stored_home(session: Session) -> Home | None:
    """The home set on the trips page (kept in the catalog), or None."""
    from smartalbum.library.schema_settings import get_setting

    value = get_setting(session, HOME_SETTING)
    if not isinstance(value, dict):
        return None
    try:
        lat, lon = float(value["latitude"]), float(value["longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    return Home(lat, lon, source="library")


def store_home(session: Session, position: tuple[float, float] | None) -> Home | None:
    """Keep ``position`` as this library's home (None: forget it, learn it again)."""
    from smartalbum.library.schema_settings import set_setting

    if position is None:
        set_setting(session, HOME_SETTING, None)
        return None
    lat, lon = position
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError("LAT must be in -90..90 and LON in -180..180")
    set_setting(session, HOME_SETTING, {"latitude": lat, "longitude": lon})
    return Home(lat, lon, source="library")


def learn_home(photos: Iterable[PhotoRecord], *, cell_km: float = HOME_CELL_KM) -> Home | None:
    """The centre of the place photographed on the most distinct days (None without GPS).

    Ties go to the cell with more photos. The centre is the median position of the photos
    in the winning cell and its neighbours (robust to a stray far photo in a border cell).
    """
    cells: dict[tuple[int, int], list[tuple[float, float, Any]]] = {}
    for p in photos:
        if p.latitude is None or p.longitude is None:
            continue
        y = p.latitude * _KM_PER_DEGREE
        x = p.longitude * _KM_PER_DEGREE * math.cos(math.radians(p.latitude))
        day = p.taken_at.date() if p.taken_at else None
        cells.setdefault((math.floor(y / cell_km), math.floor(x / cell_km)), []).append(
            (p.latitude, p.longitude, day)
        )
    if not cells:
        return None

    def around(cell: tuple[int, int]) -> list[tuple[float, float, Any]]:
        cy, cx = cell
        out = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                out.extend(cells.get((cy + dy, cx + dx), ()))
        return out

    def score(cell: tuple[int, int]) -> tuple[int, int]:
        points = around(cell)
        return (len({d for _, _, d in points if d is not None}), len(points))

    best = max(sorted(cells), key=score)
    points = around(best)
    days, count = score(best)
    return Home(
        latitude=float(np.median([p[0] for p in points])),
        longitude=float(np.median([p[1] for p in points])),
        source="learned",
        days=days,
        photos=count,
    )


# --------------------------------------------------------------------------- trips


def _place(p: PhotoRecord) -> str | None:
    return p.city or p.region or p.country or None


def _label(p: PhotoRecord) -> str | None:
    """The label that counts for summaries: correction, else a confident prediction."""
    if p.correction is not None:
        return p.correction
    if p.prediction is not None and not p.prediction.uncertain:
        return p.prediction.label
    return None


def _join(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _months(start: datetime, end: datetime) -> str:
    a, b = MONTHS[start.month - 1], MONTHS[end.month - 1]
    if (start.year, start.month) == (end.year, end.month):
        return f"{a} {start.year}"
    if start.year == end.year:
        return f"{a}–{b} {start.year}"
    return f"{a} {start.year}–{b} {end.year}"


def _coordinates(lat: float, lon: float) -> str:
    return f"{abs(lat):.2f}°{'N' if lat >= 0 else 'S'} {abs(lon):.2f}°{'E' if lon >= 0 else 'W'}"


def trip_title(located: Sequence[PhotoRecord], start: datetime, end: datetime) -> str:
    """ "Arezzo and Florence, May 2024": up to 3 top places, in order of first visit."""
    counts = Counter(n for n in map(_place, located) if n)
    first: dict[str, datetime] = {}
    for p in located:
        name = _place(p)
        if name and p.taken_at and name not in first:
            first[name] = p.taken_at
    top = [n for n, _ in counts.most_common(3)]
    top.sort(key=lambda n: first.get(n, start))
    if not top:
        lat = float(np.mean([p.latitude for p in located]))
        lon = float(np.mean([p.longitude for p in located]))
        top = [_coordinates(lat, lon)]
    return f"{_join(top)}, {_months(start, end)}"


def find_trips(
    photos: Iterable[PhotoRecord],
    home: Home | tuple[float, float],
    *,
    radius_km: float = RADIUS_KM,
    gap_hours: float = GAP_HOURS,
    min_photos: int = MIN_PHOTOS,
) -> list[Trip]:
    """Trips away from ``home``, oldest first (see the module docstring for the rules)."""
    if isinstance(home, tuple):
        home = Home(latitude=home[0], longitude=home[1], source="user")
    photos = list(photos)
    located = [
        p
        for p in photos
        if p.taken_at is not None and p.latitude is not None and p.longitude is not None
    ]
    located.sort(key=lambda p: (p.taken_at, p.id))
    if located:
        dist = haversine_km(
            home.latitude,
            home.longitude,
            np.array([p.latitude for p in located]),
            np.array([p.longitude for p in located]),
        )
    else:
        dist = np.zeros(0)
    gap = timedelta(hours=gap_hours)

    segments: list[list[tuple[PhotoRecord, float]]] = []
    current: list[tuple[PhotoRecord, float]] = []
    came_home = False
    for p, d in zip(located, dist.tolist(), strict=True):
        if d <= radius_km:
            came_home = came_home or bool(current)
            continue
        if current and (came_home or p.taken_at - current[-1][0].taken_at > gap):
            segments.append(current)
            current = []
        came_home = False
        current.append((p, d))
    if current:
        segments.append(current)
    segments = [s for s in segments if len(s) >= min_photos]

    # Photos without GPS: join the trip whose span contains them, when taken by one of the
    # trip's cameras. Spans never overlap (segments are consecutive in time).
    starts = [s[0][0].taken_at for s in segments]
    joined: list[list[PhotoRecord]] = [[] for _ in segments]
    cameras = [{p.camera for p, _ in s if p.camera} for s in segments]
    for p in photos:
        if p.taken_at is None or p.latitude is not None or not p.camera:
            continue
        k = bisect_right(starts, p.taken_at) - 1
        if k >= 0 and p.taken_at <= segments[k][-1][0].taken_at and p.camera in cameras[k]:
            joined[k].append(p)

    trips = []
    for seg, extra in zip(segments, joined, strict=True):
        seg_photos = [p for p, _ in seg]
        everyone = sorted(seg_photos + extra, key=lambda p: (p.taken_at, p.id))
        start, end = seg_photos[0].taken_at, seg_photos[-1].taken_at
        labels = Counter(n for n in map(_label, everyone) if n)
        places = Counter(n for n in map(_place, seg_photos) if n)
        trips.append(
            Trip(
                id=f"{start:%Y%m%d}-{seg_photos[0].id}",
                title=trip_title(seg_photos, start, end),
                start=start,
                end=end,
                photo_ids=[p.id for p in everyone],
                joined_ids=sorted(p.id for p in extra),
                places=places.most_common(),
                labels=dict(labels.most_common()),
                uncertain=sum(1 for p in everyone if _label(p) is None),
                latitude=float(np.mean([p.latitude for p in seg_photos])),
                longitude=float(np.mean([p.longitude for p in seg_photos])),
                farthest_km=max(d for _, d in seg),
                cameras=sorted({p.camera for p in everyone if p.camera}),
            )
        )
    return trips
