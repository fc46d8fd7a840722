"""Trips in the web app: ``GET /api/v1/trips`` and the album view ``/gallery/trips`` over a
catalog indexed from generated photos with EXIF dates and GPS (home in Milan, a weekend in
Arezzo and Florence)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gallery_catalog import index_into

from library.photos import COLOURS, encode, exif_block, picture

MILAN = (45.4642, 9.1900)
AREZZO = (43.4674, 11.8851)
FLORENCE = (43.7696, 11.2558)


def _shoot(folder: Path, name: str, when: str, where: tuple[float, float], seed: int) -> None:
    exif = exif_block(when=when, make="NIKON", model="COOLPIX P6000", gps=where)
    colour = list(COLOURS.values())[seed % 3]
    (folder / name).write_bytes(encode(picture(colour, seed), exif=exif))


@pytest.fixture
def trip_library(tmp_path: Path) -> Path:
    root = tmp_path / "trip-photos"
    root.mkdir()
    for day in range(1, 8):  # a week at home
        _shoot(root, f"home_{day}.jpg", f"2024:05:{day:02d} 18:00:00", MILAN, day)
    _shoot(root, "arezzo_1.jpg", "2024:05:24 09:15:00", AREZZO, 20)
    _shoot(root, "arezzo_2.jpg", "2024:05:24 11:40:00", AREZZO, 21)
    _shoot(root, "florence_1.jpg", "2024:05:25 10:00:00", FLORENCE, 22)
    _shoot(root, "florence_2.jpg", "2024:05:25 16:30:00", FLORENCE, 23)
    # no GPS, same camera, inside the trip's span: joins it
    exif = exif_block(when="2024:05:24 20:00:00", make="NIKON", model="COOLPIX P6000")
    (root / "dinner.jpg").write_bytes(encode(picture(COLOURS["red"], 30), exif=exif))
    return root


@pytest.fixture
def trips_app(tmp_path: Path, trip_library: Path, tiny_bundle_dir: Path, make_library_app):
    url = f"sqlite:///{tmp_path / 'trips.sqlite3'}"
    index_into(url, tiny_bundle_dir, trip_library)
    return make_library_app(url)


def test_trips_api_finds_the_weekend_away_with_its_places_and_previews(trips_app) -> None:
    client = trips_app.test_client()
    body = client.get("/api/v1/trips").get_json()
    home = body["home"]
    assert home["source"] == "learned"
    assert abs(home["latitude"] - MILAN[0]) < 0.1 and abs(home["longitude"] - MILAN[1]) < 0.1
    [trip] = body["trips"]
    assert "Arezzo" in trip["title"] and "Florence" in trip["title"]
    assert trip["photos"] == 5 and len(trip["joined_without_gps"]) == 1
    assert {p["name"] for p in trip["places"]} >= {"Arezzo", "Florence"}
    assert sum(trip["labels"].values()) + trip["uncertain"] == 5
    assert [p["id"] for p in trip["preview"]] == trip["photo_ids"][:8]
    thumb = client.get(trip["preview"][0]["thumbnail"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"


def test_trips_api_takes_a_home_and_refuses_a_bad_one(trips_app) -> None:
    client = trips_app.test_client()
    # "home" in Arezzo: the Milan week becomes the trip instead
    body = client.get(f"/api/v1/trips?home={AREZZO[0]},{AREZZO[1]}").get_json()
    assert body["home"]["source"] == "user"
    assert [t["photos"] for t in body["trips"]] == [7]
    for bad in ("north", "91,0", "1,2,3"):
        resp = client.get(f"/api/v1/trips?home={bad}")
        assert resp.status_code == 400, bad
        assert resp.get_json()["code"] == "bad_parameter"
    assert client.get("/api/v1/trips?nope=1").status_code == 400


def test_trips_page_shows_the_trip_as_an_album(browser, trips_app, start_server, tmp_path) -> None:
    base = start_server(database_url=f"sqlite:///{tmp_path / 'trips.sqlite3'}")
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{base}/gallery/trips")
    card = page.locator(".trip").first
    card.wait_for(timeout=15_000)
    assert "Arezzo" in card.locator(".trip-title").inner_text()
    assert "5 photos" in card.locator(".trip-facts").inner_text()
    assert card.locator(".trip-photo").count() == 5
    page.wait_for_function(
        "() => [...document.querySelectorAll('.trip-photo img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert page.locator("#empty").is_hidden()
    assert page.locator("#trips-home").inner_text().startswith("Home: Milan")  # a place name
    assert card.locator(".trip-link").get_attribute("href").startswith("/trips/")
    # A trip's photo opens in the viewer (static/viewer.js), over the trips page.
    card.locator(".trip-photo a").first.click()
    page.wait_for_selector("dialog.viewer[open]", timeout=15_000)
    assert page.url.endswith("/gallery/trips")
    page.close()
    assert problems == []
