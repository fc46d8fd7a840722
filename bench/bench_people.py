"""People page: the API calls of a first visit with 50 people x 4 faces, cold and warm,
as one contact sheet (``/api/v1/faces/sheet``) vs. the old way (one request per crop).

The catalog: ``common.py``'s 12 MP JPEGs (street photos of the shared pool when present),
two faces per photo, 200 faces of 50 people. Boxes are placed, not detected: what is timed
is serving the page, not the detector. Every call goes through the real app (Flask test
client, in process: no network). Scenarios, each the page's calls (``GET /api/v1/people``
and the face crops), cold means the face-crop cache is empty or as the scan left it:

- ``old_cold``: one ``/faces/{id}/thumbnail`` per face, no crop on disk (each one decodes
  its original at 1024 px) — the first visit before crops were cut at scan time.
- ``old_warm``: the same, crops on disk.
- ``sheet_first_visit``: crops cut when the photos were scanned (the scan's extra cost per
  face is reported apart as ``scan_crop_ms_per_face``), one sheet request.
- ``sheet_unscanned_cold``: one sheet with no crop on disk (a catalog scanned before this
  change): each photo decoded once, then the crops are on disk.
- ``sheet_warm``: the browser revalidates with ``If-None-Match``: ``304``.

Prints one JSON object (seconds; best of ``--repeat`` for the warm ones).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from common import generate_photos  # noqa: E402

PEOPLE = 50
FACES_PER_PERSON = 4


def _catalog(settings, photos: list[Path]) -> None:
    from PIL import Image

    from smartalbum.library import db
    from smartalbum.library.schema import File, Photo
    from smartalbum.library.schema_faces import Face, Person

    factory = db.open_catalog(settings)[1]
    with factory() as s:
        people = [Person() for _ in range(PEOPLE)]
        s.add_all(people)
        s.flush()
        for n, path in enumerate(photos):
            data = path.read_bytes()
            with Image.open(path) as im:
                width, height = im.size
            photo = Photo(
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                format="JPEG",
                width=width,
                height=height,
            )
            s.add(photo)
            s.flush()
            st = path.stat()
            s.add(File(photo_id=photo.id, path=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns))
            for k in range(2):  # two people side by side
                face = 2 * n + k
                s.add(
                    Face(
                        photo_id=photo.id,
                        x=0.2 + 0.45 * k,
                        y=0.3,
                        w=0.12,
                        h=0.16,
                        landmarks=[],
                        score=1.0,
                        embedding=bytes(512),
                        person_id=people[face // FACES_PER_PERSON].id,
                        assigned_by="auto",
                    )
                )
        s.commit()


def _visit(client, sheet: bool, etags: dict[str, str] | None = None) -> tuple[float, int]:
    """The page's API calls; (seconds, requests)."""
    start = time.perf_counter()
    listing = client.get("/api/v1/people").get_json()
    ids = [f["id"] for p in listing["people"] for f in p["face_list"]]
    ids += [f["id"] for f in listing["unassigned"]]
    requests = 1
    if sheet:
        for at in range(0, len(ids), 200):
            url = "/api/v1/faces/sheet?ids=" + ",".join(map(str, ids[at : at + 200]))
            headers = {"If-None-Match": etags[url]} if etags and url in etags else {}
            resp = client.get(url, headers=headers)
            assert resp.status_code in (200, 304), resp.status_code
            if etags is not None:
                etags[url] = resp.headers["ETag"]
            requests += 1
    else:
        for face_id in ids:
            assert client.get(f"/api/v1/faces/{face_id}/thumbnail").status_code == 200
            requests += 1
    assert len(ids) == PEOPLE * FACES_PER_PERSON, len(ids)
    return time.perf_counter() - start, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos-dir", type=Path, default=Path(tempfile.gettempdir()) / "sa_bench")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from smartalbum.config import Settings
    from smartalbum.faces.service import store_thumbnail, thumbnail_dir
    from smartalbum.imaging import load_photo
    from smartalbum.library import db
    from smartalbum.web import create_app

    photos = generate_photos(args.photos_dir, n=PEOPLE * FACES_PER_PERSON // 2)
    out: dict[str, object] = {"people": PEOPLE, "faces": PEOPLE * FACES_PER_PERSON}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=f"sqlite:///{tmp}/catalog.sqlite3",
            web={"rate_limit": ""},
        )
        _catalog(settings, photos)
        client = create_app(settings).test_client()
        crops = thumbnail_dir(settings.data_dir)

        shutil.rmtree(crops, ignore_errors=True)
        out["old_cold_s"], out["old_requests"] = _visit(client, sheet=False)
        out["old_warm_s"] = min(_visit(client, sheet=False)[0] for _ in range(args.repeat))

        # As the scan does: crops cut from the image it decoded anyway (at detect_size).
        shutil.rmtree(crops, ignore_errors=True)
        listing = client.get("/api/v1/people").get_json()
        faces = [f for p in listing["people"] for f in p["face_list"]]
        by_photo: dict[int, list[dict]] = {}
        for f in faces:
            by_photo.setdefault(f["photo_id"], []).append(f)
        cut = 0.0
        for n, photo_path in enumerate(photos):
            image = load_photo(str(photo_path), max_side=settings.faces.detect_size)
            start = time.perf_counter()
            for f in by_photo.get(n + 1, []):
                box = f["box"]
                store_thumbnail(
                    crops, image.image, image.facts.sha256, (box["x"], box["y"], box["w"], box["h"])
                )
            cut += time.perf_counter() - start
        out["scan_crop_ms_per_face"] = round(1000 * cut / len(faces), 2)
        out["sheet_first_visit_s"], out["sheet_requests"] = _visit(client, sheet=True)

        shutil.rmtree(crops, ignore_errors=True)
        out["sheet_unscanned_cold_s"] = _visit(client, sheet=True)[0]
        etags: dict[str, str] = {}
        _visit(client, sheet=True, etags=etags)
        out["sheet_warm_s"] = min(
            _visit(client, sheet=True, etags=etags)[0] for _ in range(args.repeat)
        )
        db.dispose_all()
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
