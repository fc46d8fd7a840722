"""A photo's original bytes and its preview over a real (SQLite) catalog: identical bytes,
ETag and 304, ranges, media types, downloads, HEIC as a JPEG preview, and what is refused
(unknown ids, a copy that is no longer a regular file, a copy outside the jobs' roots)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from gallery_catalog import index_into
from PIL import Image

from smartalbum.library import db
from smartalbum.library.schema import File, Photo

PROBLEM = "application/problem+json"


def picture(w: int, h: int, seed: int) -> Image.Image:
    """A red picture with a bright marker in its top-left corner (to see the orientation)."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((h, w, 3), np.uint8)
    pixels[:] = (200, 30, 30)
    pixels += rng.integers(0, 20, size=pixels.shape, dtype=np.uint8)
    pixels[: h // 4, : w // 4] = (250, 250, 250)
    return Image.fromarray(pixels)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    import pillow_heif

    pillow_heif.register_heif_opener()
    root = tmp_path / "photos"
    root.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90° clockwise: upright is portrait
    picture(400, 300, 1).save(root / "rotated.jpg", format="JPEG", quality=90, exif=exif)
    picture(320, 240, 2).save(root / "plain.png", format="PNG")
    picture(200, 160, 3).save(root / "phone.heic", format="HEIF", quality=80)
    return root


@pytest.fixture
def catalog(sqlite_catalog_url: str, folder: Path, tiny_bundle_dir: Path) -> str:
    summary = index_into(sqlite_catalog_url, tiny_bundle_dir, folder)
    assert summary.new == 3
    return sqlite_catalog_url


def ids_by_name(url: str) -> dict[str, int]:
    _, factory = db.open_catalog(url=url)
    with factory() as s:
        return {Path(p).name: i for p, i in s.execute(db_select_paths())}


def db_select_paths():
    from sqlalchemy import select

    return select(File.path, File.photo_id)


class ClosingClient:
    """The test client, each response read and closed (its file too) before it is returned."""

    def __init__(self, client) -> None:
        self.client = client

    def get(self, *args, **kwargs):
        resp = self.client.get(*args, **kwargs)
        resp.get_data()
        resp.close()
        return resp


@pytest.fixture
def client(catalog: str, make_library_app):
    return ClosingClient(make_library_app(catalog).test_client())


def assert_problem(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    assert resp.get_json()["code"] == code


def test_original_is_the_files_bytes_with_its_type_etag_and_304(client, catalog, folder) -> None:
    ids = ids_by_name(catalog)
    for name, mimetype in [
        ("rotated.jpg", "image/jpeg"),
        ("plain.png", "image/png"),
        ("phone.heic", "image/heif"),
    ]:
        data = (folder / name).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        resp = client.get(f"/api/v1/photos/{ids[name]}/original")
        assert resp.status_code == 200
        assert hashlib.sha256(resp.get_data()).hexdigest() == sha, name
        assert resp.mimetype == mimetype
        assert resp.headers["ETag"] == f'"{sha}"'
        assert resp.headers["Accept-Ranges"] == "bytes"
        assert int(resp.headers["Content-Length"]) == len(data)
        assert resp.headers["Content-Disposition"].startswith("inline")
        assert "private" in resp.headers["Cache-Control"]
        again = client.get(
            f"/api/v1/photos/{ids[name]}/original", headers={"If-None-Match": f'"{sha}"'}
        )
        assert again.status_code == 304 and again.get_data() == b""


def test_original_download_and_ranges(client, catalog, folder) -> None:
    ids = ids_by_name(catalog)
    data = (folder / "rotated.jpg").read_bytes()
    url = f"/api/v1/photos/{ids['rotated.jpg']}/original"
    saved = client.get(url + "?download=true")
    assert saved.headers["Content-Disposition"] == "attachment; filename=rotated.jpg"
    assert saved.get_data() == data

    part = client.get(url, headers={"Range": "bytes=10-109"})
    assert part.status_code == 206
    assert part.get_data() == data[10:110]
    assert part.headers["Content-Range"] == f"bytes 10-109/{len(data)}"
    tail = client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.get_data() == data[-50:]
    beyond = client.get(url, headers={"Range": f"bytes={len(data) + 10}-"})
    assert beyond.status_code == 416


def test_heic_gets_a_link_to_its_jpeg_preview(client, catalog) -> None:
    ids = ids_by_name(catalog)
    resp = client.get(f"/api/v1/photos/{ids['phone.heic']}/original")
    link = resp.headers["Link"]
    assert f"/api/v1/photos/{ids['phone.heic']}/preview?size=2560" in link
    assert 'type="image/jpeg"' in link
    assert "Link" not in client.get(f"/api/v1/photos/{ids['plain.png']}/original").headers

    preview = client.get(f"/api/v1/photos/{ids['phone.heic']}/preview")
    assert preview.status_code == 200 and preview.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(preview.get_data()))
    assert image.format == "JPEG" and image.size == (200, 160)


def test_preview_is_upright_bounded_cached_on_disk_with_an_etag(client, catalog, tmp_path) -> None:
    ids = ids_by_name(catalog)
    url = f"/api/v1/photos/{ids['rotated.jpg']}/preview?size=1600"
    resp = client.get(url)
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(resp.get_data())).convert("RGB")
    assert image.size == (300, 400)  # upright: EXIF orientation 6 applied, never enlarged
    # the marker (the stored top-left) is now at the top right
    assert image.getpixel((280, 20))[1] > 200 and image.getpixel((20, 20))[1] < 100
    etag = resp.headers["ETag"]
    _, factory = db.open_catalog(url=catalog)
    with factory() as s:
        sha = s.get(Photo, ids["rotated.jpg"]).sha256
    assert etag == f'"{sha}-1600"'
    assert (tmp_path / "data" / "previews" / "1600" / sha[:2] / f"{sha}.jpg").is_file()
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    bad = client.get(f"/api/v1/photos/{ids['rotated.jpg']}/preview?size=999")
    assert_problem(bad, 400, "bad_parameter")


def test_unknown_photos_are_404(client) -> None:
    for url in (
        "/api/v1/photos/999/original",
        "/api/v1/photos/999/preview",
        f"/api/v1/photos/{2**40}/original",
    ):
        assert_problem(client.get(url), 404, "photo_not_found")
    assert client.get("/api/v1/photos/../etc/passwd/original").status_code == 404


def test_a_copy_that_is_no_longer_a_regular_file_is_refused(client, catalog, folder) -> None:
    ids = ids_by_name(catalog)
    path = folder / "plain.png"
    stat = path.stat()
    path.unlink()
    os.mkfifo(path)  # a reader that opened it would block until someone writes
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    try:
        resp = client.get(f"/api/v1/photos/{ids['plain.png']}/original")
        assert_problem(resp, 404, "original_unavailable")
        assert "not a photo file" in resp.get_json()["detail"]
    finally:
        path.unlink()


def test_a_changed_copy_is_not_served_under_the_photos_hash(client, catalog, folder) -> None:
    ids = ids_by_name(catalog)
    path = folder / "plain.png"
    path.write_bytes(path.read_bytes() + b"more")
    resp = client.get(f"/api/v1/photos/{ids['plain.png']}/original")
    assert_problem(resp, 404, "original_unavailable")
    assert "changed since it was indexed" in resp.get_json()["detail"]


def test_copies_outside_the_jobs_roots_are_not_served_or_thumbnailed(catalog, tmp_path, make_settings) -> None:
    from smartalbum.web import create_app

    settings = make_settings(database_url=catalog)
    settings.jobs.roots = [tmp_path / "elsewhere"]
    client = ClosingClient(create_app(settings).test_client())
    ids = ids_by_name(catalog)
    resp = client.get(f"/api/v1/photos/{ids['plain.png']}/original")
    assert_problem(resp, 404, "original_unavailable")
    assert "outside the folders" in resp.get_json()["detail"]
    # a thumbnail reads the same file: the same boundary (it used to be served from any path)
    resp = client.get(f"/api/v1/photos/{ids['plain.png']}/thumbnail")
    assert_problem(resp, 404, "thumbnail_unavailable")
    assert "outside the folders" in resp.get_json()["detail"]
