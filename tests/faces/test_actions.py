"""Issue 15's people actions without a detector: a merge recorded and undone, "not a face"
dismissals that survive re-clustering, a person's photos — in the library and over HTTP."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sqlalchemy import select

from faces.conftest import add_photo, write_jpeg
from smartalbum.faces import people as ppl
from smartalbum.faces.embed import to_bytes
from smartalbum.faces.errors import InvalidCorrectionError
from smartalbum.library import db
from smartalbum.library.schema_faces import ASSIGNED_AUTO, Face, FaceRejection, Person
from smartalbum.web import create_app


def seed_people(factory, tmp_path) -> dict[str, list[int]]:
    """Two people (A: 3 faces, B: 2 faces) over 4 photos, one face nobody's; tight clusters."""
    rng = np.random.default_rng(0)
    centres = {"A": rng.normal(size=128), "B": rng.normal(size=128), "X": rng.normal(size=128)}
    image = np.full((64, 64, 3), 128, np.uint8)
    photos = [add_photo(factory, write_jpeg(tmp_path / f"p{k}.jpg", image + k)) for k in range(4)]
    out: dict[str, list[int]] = {"photos": photos}
    with factory() as s:
        people = {}
        for who in ("A", "B"):
            person = Person(name=None)
            s.add(person)
            s.flush()
            people[who] = person.id
        out["people"] = [people["A"], people["B"]]
        plan = [("A", 0), ("A", 1), ("A", 2), ("B", 2), ("B", 3), ("X", 3)]
        for who, k in plan:
            v = centres[who] + rng.normal(scale=0.01, size=128)
            v = (v / np.linalg.norm(v) * 0.4).astype(np.float32)
            face = Face(
                photo_id=photos[k],
                x=0.1,
                y=0.1,
                w=0.2,
                h=0.2,
                landmarks=[],
                score=1.0,
                embedding=to_bytes(v),
                person_id=people.get(who),
                assigned_by=ASSIGNED_AUTO if who in people else None,
            )
            s.add(face)
            s.flush()
            out.setdefault(who, []).append(face.id)
        s.commit()
    return out


def _assignments(s) -> dict[int, tuple[int | None, str | None]]:
    return {f.id: (f.person_id, f.assigned_by) for f in s.scalars(select(Face))}


def test_merge_is_recorded_and_undone(factory, tmp_path) -> None:
    seed = seed_people(factory, tmp_path)
    a, b = seed["people"]
    with factory() as s:
        s.get(Person, b).name = "Bea"
        s.get(Person, b).birth_date = date(1990, 1, 2)
        s.add(FaceRejection(face_id=seed["X"][0], person_id=b))
        s.commit()
        before = _assignments(s)
    with db.session_scope(factory) as s:
        keep = ppl.merge_people(s, s.get(Person, a), [s.get(Person, b)])
        assert keep.name == "Bea"
        s.flush()
        merge = ppl.latest_merge(s, a)
        assert merge is not None
        merge_id = merge.id
    with factory() as s:
        assert s.get(Person, b) is None
        assert {pid for pid, _ in _assignments(s).values() if pid} == {a}
    with db.session_scope(factory) as s:
        restored, moved = ppl.undo_merge(s, merge_id)
    assert restored == [b] and moved == 5
    with factory() as s:
        assert _assignments(s) == before
        bea = s.get(Person, b)
        assert (bea.name, bea.birth_date) == ("Bea", date(1990, 1, 2))
        assert s.get(Person, a).name is None
        rejected = set(s.execute(select(FaceRejection.face_id, FaceRejection.person_id)))
        assert rejected == {(seed["X"][0], b)}  # the copy onto A is gone, B's own stays
    with db.session_scope(factory) as s, pytest.raises(InvalidCorrectionError):
        ppl.undo_merge(s, merge_id)


def test_dismissed_face_is_hidden_everywhere_and_survives_reclustering(factory, tmp_path) -> None:
    seed = seed_people(factory, tmp_path)
    a, _ = seed["people"]
    lamp = seed["A"][0]
    with db.session_scope(factory) as s:
        assert ppl.dismiss_faces(s, [lamp]) == 1
    ppl.recluster(factory, threshold=0.5, min_cluster=2)
    with factory() as s:
        face = s.get(Face, lamp)
        assert face.dismissed_at is not None and face.person_id is None
        assert lamp not in [f.id for f in ppl.faces_of_person(s, a)]
        assert lamp not in [f.id for f in ppl.faces_of_person(s, None)]
        assert lamp not in [f.id for f in ppl.faces_of_photo(s, seed["photos"][0])]
        counts = {p["id"]: p["faces"] for p in ppl.list_people(s)}
        assert counts[a] == 2


@pytest.fixture
def client(app_settings, tmp_path):
    settings = app_settings()
    app = create_app(settings)
    factory = db.open_catalog(settings)[1]
    seed = seed_people(factory, tmp_path)
    yield app.test_client(), seed
    db.dispose_all()


def test_merge_undo_dismiss_and_photos_over_http(client) -> None:
    http, seed = client
    a, b = seed["people"]
    merged = http.post(f"/api/v1/people/{a}/merge", json={"people": [b]})
    assert merged.status_code == 200, merged.get_data(as_text=True)
    body = merged.get_json()
    assert body["faces"] == 5 and isinstance(body["merge"], int)
    assert len(http.get("/api/v1/people").get_json()["people"]) == 1
    undone = http.post(f"/api/v1/people/merges/{body['merge']}/undo")
    assert undone.status_code == 200, undone.get_data(as_text=True)
    assert undone.get_json() == {"merge": body["merge"], "people": [b], "faces": 5}
    people = {p["id"]: p["faces"] for p in http.get("/api/v1/people").get_json()["people"]}
    assert people == {a: 3, b: 2}
    again = http.post(f"/api/v1/people/merges/{body['merge']}/undo")
    assert again.status_code == 400 and again.get_json()["code"] == "invalid_correction"
    assert http.post("/api/v1/people/merges/999/undo").get_json()["code"] == "no_merge"

    # a person's photos (the person page's grid)
    photos = http.get(f"/api/v1/people/photos?person={a}").get_json()["photos"]
    assert [p["id"] for p in photos] == seed["photos"][:3]

    gone = http.post("/api/v1/faces/dismissals", json={"faces": [seed["X"][0]]})
    assert gone.status_code == 200 and gone.get_json() == {"dismissed": 1}
    assert http.get("/api/v1/people").get_json()["unassigned"] == []
    faces = http.get(f"/api/v1/photos/{seed['photos'][3]}/faces").get_json()["faces"]
    assert seed["X"][0] not in [f["id"] for f in faces]
    missing = http.post("/api/v1/faces/dismissals", json={"faces": [99999]})
    assert missing.status_code == 404
