"""Trips on synthetic records: home detection, splitting, titles, no-GPS join, labels."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

import numpy as np
import pytest

from library.records import prediction, record
from smartalbum.library import trips as tr

MILAN = (45.4642, 9.1900)
AREZZO = (43.4633, 11.8796)
FLORENCE = (43.7696, 11.2558)
PARIS = (48.8566, 2.3522)
ROME = (41.9028, 12.4964)

_ids = count(1)


def shot(
    when: datetime,
    where: tuple[float, float] | None,
    city: str | None = None,
    *,
    camera: tuple[str, str] = ("Canon", "Canon EOS 80D"),
    label: str | None = "landscape",
    jitter_km: float = 2.0,
    seed: int = 0,
    **extra,
):
    rng = np.random.default_rng(seed)
    lat = lon = None
    if where is not None:
        lat = where[0] + rng.normal(0, jitter_km / 111.0)
        lon = where[1] + rng.normal(0, jitter_km / 111.0)
    pid = next(_ids)
    extra.setdefault("prediction", prediction(label) if label else None)
    return record(
        id=pid,
        taken_at=when,
        latitude=lat,
        longitude=lon,
        city=city,
        country="IT" if city else None,
        camera_make=camera[0],
        camera_model=camera[1],
        paths=[f"/p/{pid}.jpg"],
        **extra,
    )


def home_life(days: int = 120, start: datetime = datetime(2024, 1, 1)) -> list:
    """A few photos a week at home (Milan), spread over months."""
    return [
        shot(start + timedelta(days=d, hours=18), MILAN, "Milan", seed=d)
        for d in range(0, days * 2, 2)
    ]


def test_home_is_the_place_of_most_distinct_days_not_most_photos() -> None:
    home = home_life(days=60)  # 60 days, one photo each
    holiday = [
        shot(datetime(2024, 8, 1) + timedelta(minutes=7 * k), ROME, "Rome", seed=1000 + k)
        for k in range(900)  # 900 photos, but over a few days only
    ]
    learned = tr.learn_home(home + holiday)
    assert learned is not None and learned.source == "learned"
    assert learned.days == 60
    assert tr.haversine_km(learned.latitude, learned.longitude, *MILAN) < 3.0
    assert tr.learn_home([record(id=1)]) is None


def test_trip_title_places_in_visit_order_and_month() -> None:
    start = datetime(2024, 5, 3, 9)
    photos = (
        home_life(days=60)
        + [  # Jan-Apr: before the trip
            shot(start + timedelta(hours=h), AREZZO, "Arezzo", seed=h) for h in range(0, 20, 2)
        ]
        + [
            shot(start + timedelta(days=1, hours=h), FLORENCE, "Florence", seed=50 + h)
            for h in range(0, 30, 2)
        ]
    )
    trips = tr.find_trips(photos, MILAN)
    assert [t.title for t in trips] == ["Arezzo and Florence, May 2024"]
    trip = trips[0]
    assert trip.places[0] == ("Florence", 15) and trip.places[1] == ("Arezzo", 10)
    assert len(trip.photo_ids) == 25
    assert trip.farthest_km > 200
    assert trip.to_dict()["photos"] == 25


def test_split_by_time_gap_and_by_coming_home() -> None:
    paris1 = [
        shot(datetime(2024, 8, 1, 10) + timedelta(hours=5 * k), PARIS, "Paris", seed=k)
        for k in range(6)
    ]  # Aug 1-2
    paris2 = [
        shot(datetime(2024, 8, 5, 10) + timedelta(hours=3 * k), PARIS, "Paris", seed=10 + k)
        for k in range(4)
    ]  # > 36 h later: a new trip
    rome_a = [
        shot(datetime(2024, 6, 1, 8) + timedelta(hours=k), ROME, "Rome", seed=20 + k)
        for k in range(3)
    ]
    back = [shot(datetime(2024, 6, 1, 20), MILAN, "Milan", seed=30)]  # home that evening
    rome_b = [
        shot(datetime(2024, 6, 2, 9) + timedelta(hours=k), ROME, "Rome", seed=40 + k)
        for k in range(3)
    ]  # 25 h after rome_a: no gap, but the user came home between
    trips = tr.find_trips(paris1 + paris2 + rome_a + back + rome_b, MILAN)
    assert [len(t.photo_ids) for t in trips] == [3, 3, 6, 4]
    assert [t.title for t in trips] == [
        "Rome, June 2024",
        "Rome, June 2024",
        "Paris, August 2024",
        "Paris, August 2024",
    ]
    # With a longer gap allowed, the two Paris stays become one trip.
    assert len(tr.find_trips(paris1 + paris2, MILAN, gap_hours=100)) == 1


def test_few_far_photos_are_not_a_trip_and_radius_counts() -> None:
    one = [shot(datetime(2024, 3, 1, 12), ROME, "Rome")]
    assert tr.find_trips(one, MILAN) == []
    assert len(tr.find_trips(one, MILAN, min_photos=1)) == 1
    near = [
        shot(datetime(2024, 3, 2, 12) + timedelta(hours=k), (45.70, 9.67), "Bergamo", seed=k)
        for k in range(5)
    ]  # ~45 km from Milan
    assert tr.find_trips(near, MILAN) == []
    assert len(tr.find_trips(near, MILAN, radius_km=30)) == 1


def test_photos_without_gps_join_by_camera_and_time() -> None:
    start = datetime(2024, 5, 3, 9)
    located = [
        shot(start + timedelta(hours=3 * k), FLORENCE, "Florence", seed=k) for k in range(8)
    ]  # Canon, May 3 09:00 -> May 4 06:00
    same_camera = shot(start + timedelta(hours=10), None)
    other_camera = shot(start + timedelta(hours=10), None, camera=("Google", "Pixel 7"))
    outside = shot(start + timedelta(days=3), None)
    undated = shot(start, None)
    object.__setattr__(undated, "taken_at", None)
    [trip] = tr.find_trips(located + [same_camera, other_camera, outside, undated], MILAN)
    assert trip.joined_ids == [same_camera.id]
    assert same_camera.id in trip.photo_ids
    assert other_camera.id not in trip.photo_ids and outside.id not in trip.photo_ids
    assert trip.cameras == ["Canon EOS 80D"]


def test_scene_summary_corrections_win_uncertain_apart() -> None:
    start = datetime(2024, 7, 10, 10)
    photos = [
        shot(start, ROME, "Rome", label="architecture", seed=1),
        shot(start + timedelta(hours=1), ROME, "Rome", label="architecture", seed=2),
        shot(
            start + timedelta(hours=2), ROME, "Rome", label="landscape", seed=3, correction="food"
        ),
        shot(start + timedelta(hours=3), ROME, "Rome", label="people", seed=4),
    ]
    photos.append(
        shot(
            start + timedelta(hours=4),
            ROME,
            "Rome",
            label=None,
            seed=5,
            prediction=prediction("pets", 0.3, uncertain=True),
        )
    )
    [trip] = tr.find_trips(photos, MILAN)
    assert trip.labels == {"architecture": 2, "food": 1, "people": 1}
    assert trip.uncertain == 1


def test_titles_across_months_years_and_without_places() -> None:
    photos = [
        shot(datetime(2023, 12, 30, 12) + timedelta(hours=10 * k), ROME, None, seed=k)
        for k in range(6)
    ]
    [trip] = tr.find_trips(photos, MILAN)
    assert trip.title.endswith(", December 2023–January 2024")
    assert trip.title.startswith("41.9") and "°N" in trip.title and "°E" in trip.title
    assert tr._months(datetime(2024, 5, 30), datetime(2024, 6, 2)) == "May–June 2024"
    many = [
        shot(datetime(2024, 9, 1) + timedelta(hours=k), place, name, seed=k)
        for k, (place, name) in enumerate(
            [(ROME, "Rome")] * 3
            + [(FLORENCE, "Florence")] * 2
            + [(AREZZO, "Arezzo")] * 4
            + [(PARIS, "Paris")]
        )
    ]
    assert tr.trip_title(many, many[0].taken_at, many[-1].taken_at) == (
        "Rome, Florence and Arezzo, September 2024"
    )


def test_parse_home() -> None:
    assert tr.parse_home("43.46, 11.88") == (43.46, 11.88)
    for bad in ("43.46", "100,0", "a,b", "1,2,3"):
        with pytest.raises(ValueError):
            tr.parse_home(bad)
