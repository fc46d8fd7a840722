"""EXIF dates, camera, GPS and offline places: generated files and the shared edge cases."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from library.photos import R, encode, exif_block, picture
from smartalbum.library import metadata as md
from smartalbum.library import places

REPO_ROOT = Path(__file__).resolve().parents[2]
EDGE = REPO_ROOT / ".." / "shared" / "data" / "edge_cases"


def _edge(rel: str) -> Path:
    path = EDGE / rel
    if not path.is_file():
        pytest.skip(f"{path} is absent (shared data not available)")
    return path


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_generated_exif_is_read_in_every_format(fmt):
    exif = exif_block(
        when="2023:12:31 23:59:58",
        offset="-05:00",
        make="Apple",
        model="iPhone 15",
        gps=(-33.8651, -70.6667),
        altitude=-12.5,
    )
    data = encode(picture((200, 50, 50), 1, (64, 48)), fmt, exif=exif)
    meta = md.metadata_from_bytes(data, mtime_ns=0)
    assert meta.taken_at == datetime(2023, 12, 31, 23, 59, 58)
    assert meta.taken_at_source == "exif" and meta.tz_offset_min == -300
    assert (meta.camera_make, meta.camera_model) == ("Apple", "iPhone 15")
    assert meta.latitude == pytest.approx(-33.8651, abs=1e-6)  # S
    assert meta.longitude == pytest.approx(-70.6667, abs=1e-6)  # W
    assert meta.altitude == pytest.approx(-12.5)  # below sea level


def test_subseconds_and_digitized_fallback():
    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)
    sub[0x9004] = "2019:07:01 12:00:00"  # only DateTimeDigitized
    sub[0x9292] = "5"
    sub[0x9012] = "+0530"
    exif[0x0132] = "2020:01:01 00:00:00"  # IFD0 DateTime is an edit time: never used
    meta = md.metadata_from_bytes(encode(picture((9, 9, 9), 2, (32, 32)), exif=exif))
    assert meta.taken_at == datetime(2019, 7, 1, 12, 0, 0, 500000)
    assert meta.tz_offset_min == 330


@pytest.mark.parametrize(
    "value",
    [
        "0000:00:00 00:00:00",
        "2008:13:45 10:00:00",
        "1999:99:99 99:99:99",
        "    ",
        "garbage",
        "2999:01:01 00:00:00",
        "1700:01:01 00:00:00",
    ],
)
def test_impossible_dates_fall_back_to_the_file_time(value):
    exif = exif_block(when=value, make="X")
    mtime_ns = 1_700_000_000 * 10**9
    meta = md.metadata_from_bytes(
        encode(picture((9, 9, 9), 3, (32, 32)), exif=exif), mtime_ns=mtime_ns
    )
    local = datetime.fromtimestamp(1_700_000_000)
    assert meta.taken_at_source == "file" and meta.taken_at == local
    offset = datetime.fromtimestamp(1_700_000_000).astimezone().utcoffset()
    assert meta.tz_offset_min == int(offset.total_seconds() // 60)


def test_no_exif_at_all():
    data = encode(picture((9, 9, 9), 4, (32, 32)), "PNG")
    assert md.read_exif(data) is None
    meta = md.metadata_from_bytes(data)
    assert meta == md.PhotoMetadata()  # nothing known, and no mtime given
    assert md.metadata_from_bytes(b"not an image", mtime_ns=0).taken_at_source == "file"


@pytest.mark.parametrize(
    ("gps", "expected"),
    [
        (
            {
                1: "N",
                2: (R(43, 1), R(28, 1), R(2814, 1000)),
                3: "E",
                4: (R(11, 1), R(53, 1), R(6456, 1000)),
            },
            (43.467448, 11.885127),
        ),
        ({1: "S", 2: (R(1, 2), R(0, 1), R(0, 1)), 3: "W", 4: (R(10, 1),)}, (-0.5, -10.0)),
        ({1: "N", 2: 45.25, 3: "E", 4: 7.5}, (45.25, 7.5)),  # single decimal values
        ({2: (R(43, 1), R(0, 1), R(0, 1)), 4: (R(11, 1), R(0, 1), R(0, 1))}, None),  # no refs
        ({1: "N", 2: (R(0, 1), R(0, 1), R(0, 1)), 3: "E", 4: (R(0, 1), R(0, 1), R(0, 1))}, None),
        ({1: "N", 2: (R(0, 0), R(0, 1), R(0, 1)), 3: "E", 4: (R(1, 1),)}, None),  # 0/0
        ({1: "N", 2: (R(95, 1),), 3: "E", 4: (R(1, 1),)}, None),  # latitude > 90
        ({1: "N", 2: 4294967295.0, 3: "E", 4: 1.0}, None),
        ({1: "X", 2: (R(10, 1),), 3: "E", 4: (R(1, 1),)}, None),
    ],
)
def test_gps_parsing(gps, expected):
    lat, lon, _ = md.gps_from_ifd(gps)
    if expected is None:
        assert lat is None and lon is None
    else:
        assert (lat, lon) == pytest.approx(expected, abs=1e-5)


def test_offsets():
    assert md.parse_offset("+02:00") == 120
    assert md.parse_offset("-03:30") == -210
    assert md.parse_offset(b"+0100\x00") == 60
    assert md.parse_offset("+25:00") is None and md.parse_offset("02:00") is None
    assert md.parse_offset(None) is None


def test_places_are_found_offline():
    arezzo = places.reverse_geocode(43.4674, 11.8851)
    assert (arezzo.city, arezzo.region, arezzo.country) == ("Arezzo", "Tuscany", "IT")
    assert arezzo.distance_km < 10 and arezzo.label() == "Arezzo, Tuscany, IT"
    assert places.reverse_geocode(35.6895, 139.6917).country == "JP"  # Tokyo
    assert places.reverse_geocode(-33.8688, 151.2093).country == "AU"  # Sydney
    assert places.reverse_geocode(0.0, -30.0) is None  # mid-Atlantic: nothing within reach
    out = places.reverse_geocode_many([(91.0, 0.0), (float("nan"), 1.0), (48.8566, 2.3522)])
    assert out[0] is None and out[1] is None and out[2].country == "FR"


def test_places_never_download(monkeypatch):
    """The lookup works with the network forbidden (any socket use raises)."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("reverse geocoding tried to use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(places, "_index", None)  # force a fresh load under the ban
    assert places.reverse_geocode(40.4168, -3.7038).country == "ES"  # Madrid


def test_shared_camera_jpeg_in_arezzo():
    path = _edge("gps/DSCN0010.jpg")
    meta = md.metadata_from_bytes(path.read_bytes(), mtime_ns=os.stat(path).st_mtime_ns)
    assert meta.taken_at == datetime(2008, 10, 22, 16, 28, 39)  # DateTimeOriginal, not DateTime
    assert meta.taken_at_source == "exif" and meta.tz_offset_min is None
    assert (meta.camera_make, meta.camera_model) == ("NIKON", "COOLPIX P6000")
    assert meta.latitude == pytest.approx(43.4674483, abs=1e-6)
    assert meta.longitude == pytest.approx(11.8851267, abs=1e-6)
    place = places.reverse_geocode(meta.latitude, meta.longitude)
    assert (place.city, place.region, place.country) == ("Arezzo", "Tuscany", "IT")


def test_every_shared_gps_photo_is_in_tuscany():
    folder = EDGE / "gps"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (shared data not available)")
    found = 0
    for path in sorted(folder.glob("DSCN*.jpg")):
        meta = md.metadata_from_bytes(path.read_bytes())
        place = places.reverse_geocode(*meta.gps)
        assert place.region == "Tuscany", path.name
        found += 1
    assert found >= 5


def test_shared_fixture_with_garbage_gps_is_not_placed():
    meta = md.metadata_from_bytes(_edge("gps/exif_gps.jpg").read_bytes(), mtime_ns=0)
    assert meta.gps is None
    assert meta.taken_at_source == "file"  # its DateTimeOriginal says 2099


def test_shared_iphone_heic():
    meta = md.metadata_from_bytes(_edge("heic/IMG_5195.HEIC").read_bytes())
    assert (meta.camera_make, meta.camera_model) == ("Apple", "iPhone 11 Pro Max")
    assert meta.taken_at == datetime(2021, 4, 11, 15, 47, 53, 54000)
    assert meta.tz_offset_min == -300
    assert meta.latitude == pytest.approx(39.0513, abs=1e-3)
    assert meta.longitude == pytest.approx(-94.2888, abs=1e-3)
    assert meta.altitude == pytest.approx(260.56, abs=0.01)
    place = places.reverse_geocode(*meta.gps)
    assert (place.region, place.country) == ("Missouri", "US")


def test_metadata_of_a_file_without_exif_uses_its_mtime(tmp_path):
    path = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    os.utime(path, ns=(1_600_000_000 * 10**9, 1_600_000_000 * 10**9))
    meta = md.metadata_from_bytes(path.read_bytes(), mtime_ns=os.stat(path).st_mtime_ns)
    assert meta.taken_at == datetime.fromtimestamp(1_600_000_000)
    assert meta.taken_at_source == "file"
