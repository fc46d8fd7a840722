"""Scanning catalog photos, incremental grouping, corrections, and re-clustering that keeps
every correction — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from faces.conftest import write_jpeg
from library.catalogs import BACKENDS, temporary_catalog
from smartalbum.config import FaceSettings
from smartalbum.faces import people as ppl
from smartalbum.faces.errors import (
    AmbiguousPersonError,
    FacesDisabledError,
    InvalidCorrectionError,
    PersonNotFoundError,
)
from smartalbum.faces.service import FaceScanner, pending_photos, photo_ids_for_paths
from smartalbum.library import db
from smartalbum.library.schema_faces import ASSIGNED_USER, Face, FaceRejection, FaceScan, Person

SETTINGS = FaceSettings(match_threshold=0.5, min_cluster=2)


def _album(faces, fac, photo_maker) -> dict[str, list[int]]:
    """A small album: 4 photos of the astronaut (A), 3 of B, 3 of C, one group photo of
    all three, one landscape without a face. Returns photo ids by who is in them."""
    a, b, c = faces.astronaut, faces.others[0], faces.others[1]
    ids: dict[str, list[int]] = {"A": [], "B": [], "C": []}
    for who, image in (("A", a), ("B", b), ("C", c)):
        for k, variant in enumerate(faces.variants(image)[: 4 if who == "A" else 3]):
            ids[who].append(photo_maker(fac, variant, f"{who}{k}", datetime(2020, 1 + k, 1)))
    ids["group"] = [photo_maker(fac, faces.group(a, b, c), "group", datetime(2021, 5, 1))]
    scenery = np.zeros((300, 400, 3), np.uint8)
    scenery[:150] = (120, 170, 230)
    scenery[150:] = (40, 120, 40)
    ids["none"] = [photo_maker(fac, scenery, "field")]
    return ids


def _person_of_photo(s, photo_id: int) -> set[int | None]:
    return set(s.scalars(select(Face.person_id).where(Face.photo_id == photo_id)))


def _assignments(s) -> dict[int, tuple[int | None, str | None]]:
    return {f.id: (f.person_id, f.assigned_by) for f in s.scalars(select(Face))}


@pytest.mark.slow
def test_scan_finds_faces_groups_people_and_is_idempotent(factory, faces, photo_maker) -> None:
    ids = _album(faces, factory, photo_maker)
    with factory() as s:
        todo = pending_photos(s)
    assert len(todo) == 12
    scanner = FaceScanner(factory, SETTINGS)
    ticks = []
    summary = scanner.scan(todo, progress=ticks.append)
    assert len(ticks) == 12 and summary.photos == 12 and not summary.errors
    assert summary.faces == 4 + 3 + 3 + 3
    with factory() as s:
        assert pending_photos(s) == []
        assert s.scalar(select(func.count()).select_from(FaceScan)) == 12
        assert s.scalar(select(FaceScan.faces).where(FaceScan.photo_id == ids["none"][0])) == 0
        people = {who: _person_of_photo(s, ids[who][0]) for who in "ABC"}
        for who in "ABC":  # every picture of one person went to one person
            assert all(_person_of_photo(s, p) == people[who] for p in ids[who])
            assert len(people[who]) == 1 and None not in people[who]
        assert len({next(iter(v)) for v in people.values()}) == 3
        assert _person_of_photo(s, ids["group"][0]) == set().union(*people.values())
        a, b = next(iter(people["A"])), next(iter(people["B"]))
        assert ppl.photos_of(s, [a, b]) == ids["group"]
        assert sorted(ppl.photos_of(s, [a])) == sorted(ids["A"] + ids["group"])
        face = s.scalars(select(Face).where(Face.photo_id == ids["A"][0])).one()
        assert 0 < face.x < 1 and 0 < face.w < 1 and len(face.landmarks) == 5
        evidence = ppl.face_evidence(s, [ids["A"][0], ids["none"][0]])
        assert evidence[ids["none"][0]] == (0, 0.0) and evidence[ids["A"][0]][0] == 1
    again = FaceScanner(factory, SETTINGS).scan(todo)
    assert again.skipped == 12 and again.faces == 0
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Face)) == 13


def test_scan_refuses_when_disabled_and_reports_a_changed_file(
    factory, faces, photo_maker, tmp_path: Path
) -> None:
    with pytest.raises(FacesDisabledError):
        FaceScanner(factory, FaceSettings(enabled=False))
    pid = photo_maker(factory, faces.astronaut, "edited")
    write_jpeg(tmp_path / "photos" / "edited.jpg", faces.others[0])  # edited in place
    summary = FaceScanner(factory, SETTINGS).scan([pid])
    assert [e[1] for e in summary.errors] == ["photo_unavailable"]
    with factory() as s:
        assert photo_ids_for_paths(s, [str(tmp_path / "photos")]) == [pid]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_corrections_survive_reclustering(backend, tmp_path, faces, photo_maker) -> None:
    with temporary_catalog(backend, tmp_path) as url:
        factory = db.open_catalog(url=url)[1]
        ids = _album(faces, factory, photo_maker)
        scanner = FaceScanner(factory, SETTINGS)
        with factory() as s:
            scanner.scan(pending_photos(s))
        with db.session_scope(factory) as s:
            a = next(iter(_person_of_photo(s, ids["A"][0])))
            b = next(iter(_person_of_photo(s, ids["B"][0])))
            c = next(iter(_person_of_photo(s, ids["C"][0])))
            # Name A: its faces become the user's.
            ppl.name_person(s, s.get(Person, a), "  Eileen   Collins ")
            # "Not this person": A's face in the group photo is rejected from A.
            group_a = s.scalars(
                select(Face.id).where(Face.photo_id == ids["group"][0], Face.person_id == a)
            ).one()
            ppl.reject_faces(s, [group_a], s.get(Person, a))
            # B and C are siblings the user wants apart... they are; but two of C's
            # pictures are moved to a person of their own (say, a twin).
            twin_faces = list(s.scalars(select(Face.id).where(Face.photo_id.in_(ids["C"][:2]))))
            twin = ppl.move_faces(s, twin_faces, None)
            twin_id = twin.id
            ppl.name_person(s, twin, "Twin")
            # B was born in 2021: B's face in the 2020 photos... B's photos are dated
            # 2020-01..03, the group photo 2021-05: B keeps only the group face.
            freed = ppl.set_birth_date(s, s.get(Person, b), date(2021, 1, 1))
            assert freed == 3
        with factory() as s:
            before = _assignments(s)
            assert ppl.resolve_person(s, "eileen collins").id == a
            assert s.get(Person, a).name == "Eileen Collins"
        summary = ppl.recluster(factory, threshold=0.5, min_cluster=2)
        assert summary.locked >= 4 + 2
        with factory() as s:
            after = _assignments(s)
            # Every face the user placed is where they put it.
            for fid, (person, by) in before.items():
                if by == ASSIGNED_USER:
                    assert after[fid] == (person, by)
            # The rejected face never went back to A.
            assert after[group_a][0] != a
            assert s.scalar(select(func.count()).select_from(FaceRejection)) >= 3
            # The twin's pictures stayed apart from C, and C kept its other picture.
            assert {after[f][0] for f in twin_faces} == {twin_id}
            assert _person_of_photo(s, ids["C"][2]) == {c}
            # B's early photos stay off B (birth date) but the group face is B's.
            for pid in ids["B"]:
                assert b not in _person_of_photo(s, pid)
            assert b in _person_of_photo(s, ids["group"][0])
        # A second run changes nothing: ids are stable.
        assert ppl.recluster(factory, threshold=0.5, min_cluster=2).changed == 0
        with factory() as s:
            assert _assignments(s) == after


@pytest.mark.slow
def test_merge_and_errors(factory, faces, photo_maker) -> None:
    ids = _album(faces, factory, photo_maker)
    with factory() as s:
        FaceScanner(factory, SETTINGS).scan(pending_photos(s))
    with db.session_scope(factory) as s:
        b = next(iter(_person_of_photo(s, ids["B"][0])))
        c = next(iter(_person_of_photo(s, ids["C"][0])))
        ppl.name_person(s, s.get(Person, c), "Sam")
        merged = ppl.merge_people(s, s.get(Person, b), [s.get(Person, c)])
        assert merged.name == "Sam"
        with pytest.raises(InvalidCorrectionError):
            ppl.merge_people(s, merged, [merged])
    with factory() as s:
        assert s.get(Person, c) is None
        assert Counter(f.person_id for f in s.scalars(select(Face)))[b] == 3 + 3 + 2
        # B and C are in the group photo: both faces now B's (the user said so).
        with pytest.raises(PersonNotFoundError):
            ppl.resolve_person(s, "nobody")
        listing = ppl.list_people(s)
        assert listing[0]["name"] == "Sam" and listing[0]["faces"] == 8
    ppl.recluster(factory, threshold=0.5)
    with db.session_scope(factory) as s:
        assert Counter(f.person_id for f in s.scalars(select(Face)))[b] == 8
        s.add(Person(name="Sam"))
    with factory() as s, pytest.raises(AmbiguousPersonError):
        ppl.resolve_person(s, "sam")


def test_purge_deletes_every_face_and_person(factory, faces, photo_maker) -> None:
    ids = _album(faces, factory, photo_maker)
    with factory() as s:
        FaceScanner(factory, SETTINGS).scan(pending_photos(s)[:5])
    with db.session_scope(factory) as s:
        pid = next(iter(_person_of_photo(s, ids["A"][0])))
        ppl.reject_faces(s, [s.scalars(select(Face.id)).first()], s.get(Person, pid))
        counts = ppl.purge(s)
    assert counts["faces"] == 5 and counts["scans"] == 5 and counts["rejections"] == 1
    with factory() as s:
        for model in (Face, FaceScan, FaceRejection, Person):
            assert s.scalar(select(func.count()).select_from(model)) == 0
        assert len(pending_photos(s)) == 12  # photos themselves untouched
