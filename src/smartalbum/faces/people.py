"""People in the catalog: listing, queries, and the user's corrections — plus re-clustering,
which must keep every one of them.

What each correction records, so that :func:`recluster` (and incremental assignment in
:mod:`smartalbum.faces.service`) can never undo it:

* **name** a person: its current faces become the user's (``assigned_by="user"``) — the
  user looked at them and said who they are; later automatic matches stay "auto".
* **merge** people: every face of both becomes the user's, under the kept person.
* **move** faces to a person (or to a new one): the faces become the user's, and each is
  remembered as rejected from the person it left.
* **reject** ("not this person"): a :class:`FaceRejection` row; the face is freed and will
  never be assigned to that person again, by anything.
* **birth date**: photos taken before it never join that person; the person's faces in
  such photos are freed at once.
* **dismiss** ("not a face": a lamp, a window): ``Face.dismissed_at`` is set and the face
  is freed; it is hidden everywhere (people, unassigned faces, a photo's faces) and never
  clustered again. A forced rescan of its photo (``faces scan --rescan``) detects afresh.

A **merge** is recorded (:class:`PersonMerge`: the merged people and every face's earlier
person) so :func:`undo_merge` can put things back as they were.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.faces import cluster
from smartalbum.faces.embed import from_bytes
from smartalbum.faces.errors import (
    AmbiguousPersonError,
    FaceNotFoundError,
    InvalidCorrectionError,
    MergeNotFoundError,
    PersonNotFoundError,
)
from smartalbum.library.db import insert_ignore, session_scope
from smartalbum.library.schema import FILE_PRESENT, File, Photo, utcnow
from smartalbum.library.schema_faces import (
    ASSIGNED_AUTO,
    ASSIGNED_USER,
    Face,
    FaceRejection,
    FaceScan,
    Person,
    PersonMerge,
)

MAX_NAME = 200


# --------------------------------------------------------------------------- reading


@dataclass
class FaceRecord:
    """A face as the CLI and API show it (box relative to the upright photo, 0..1)."""

    id: int
    photo_id: int
    sha256: str
    path: str | None
    box: tuple[float, float, float, float]  # x, y, w, h
    landmarks: list[Any]
    score: float
    person_id: int | None
    assigned_by: str | None

    def to_dict(self) -> dict[str, Any]:
        x, y, w, h = self.box
        return {
            "id": self.id,
            "photo_id": self.photo_id,
            "sha256": self.sha256,
            "path": self.path,
            "box": {"x": round(x, 5), "y": round(y, 5), "w": round(w, 5), "h": round(h, 5)},
            "landmarks": [[round(float(a), 5), round(float(b), 5)] for a, b in self.landmarks],
            "score": round(self.score, 4),
            "person_id": self.person_id,
            "assigned_by": self.assigned_by,
        }


def _face_rows(session: Session, query: Any) -> list[FaceRecord]:
    rows = session.execute(query).all()
    photo_ids = sorted({r.Face.photo_id for r in rows})
    paths: dict[int, str] = {}
    for start in range(0, len(photo_ids), 500):
        for pid, path in session.execute(
            select(File.photo_id, File.path)
            .where(File.photo_id.in_(photo_ids[start : start + 500]), File.status == FILE_PRESENT)
            .order_by(File.id.desc())
        ):
            paths[pid] = path  # ordered newest first: the oldest copy wins
    return [
        FaceRecord(
            r.Face.id,
            r.Face.photo_id,
            r.sha256,
            paths.get(r.Face.photo_id),
            (r.Face.x, r.Face.y, r.Face.w, r.Face.h),
            list(r.Face.landmarks or []),
            r.Face.score,
            r.Face.person_id,
            r.Face.assigned_by,
        )
        for r in rows
    ]


def faces_of_photo(session: Session, photo_id: int) -> list[FaceRecord]:
    q = (
        select(Face, Photo.sha256)
        .join(Photo, Photo.id == Face.photo_id)
        .where(Face.photo_id == photo_id, Face.dismissed_at.is_(None))
        .order_by(Face.x, Face.id)
    )
    return _face_rows(session, q)


def faces_of_person(
    session: Session, person_id: int | None, limit: int | None = None
) -> list[FaceRecord]:
    """A person's faces, best detection first (``person_id`` None: faces of nobody)."""
    cond = Face.person_id.is_(None) if person_id is None else Face.person_id == person_id
    q = (
        select(Face, Photo.sha256)
        .join(Photo, Photo.id == Face.photo_id)
        .where(cond, Face.dismissed_at.is_(None))
        .order_by(Face.score.desc(), Face.id)
    )
    if limit is not None:
        q = q.limit(limit)
    return _face_rows(session, q)


def get_face(session: Session, face_id: int) -> Face:
    face = session.get(Face, face_id)
    if face is None:
        raise FaceNotFoundError(f"no face {face_id}")
    return face


def person_to_dict(person: Person, face_count: int, photo_count: int) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "faces": face_count,
        "photos": photo_count,
    }


def list_people(session: Session, *, include_empty: bool = True) -> list[dict[str, Any]]:
    """Every person with face and photo counts: named first (by name), then largest first."""
    counts = {
        pid: (n, p)
        for pid, n, p in session.execute(
            select(Face.person_id, func.count(Face.id), func.count(func.distinct(Face.photo_id)))
            .where(Face.person_id.is_not(None))
            .group_by(Face.person_id)
        )
    }
    people = list(session.scalars(select(Person)))
    out = [person_to_dict(p, *counts.get(p.id, (0, 0))) for p in people]
    if not include_empty:
        out = [d for d in out if d["faces"]]
    out.sort(key=lambda d: (d["name"] is None, (d["name"] or "").lower(), -d["faces"], d["id"]))
    return out


def resolve_person(session: Session, ref: str | int) -> Person:
    """A person by id (``12`` or ``"12"``) or by name (case-insensitive, exact)."""
    text = str(ref).strip()
    if re.fullmatch(r"\d{1,9}", text):
        person = session.get(Person, int(text))
        if person is not None:
            return person
    matches = list(
        session.scalars(select(Person).where(func.lower(Person.name) == text.lower()).limit(2))
    )
    if not matches:
        raise PersonNotFoundError(f"no person {text!r}")
    if len(matches) > 1:
        raise AmbiguousPersonError(f"several people are named {text!r}: use the id")
    return matches[0]


def photos_of(session: Session, person_ids: Sequence[int]) -> list[int]:
    """Ids of the photos showing *every* one of ``person_ids`` ("photos of X and Y")."""
    wanted = sorted(set(person_ids))
    if not wanted:
        return []
    q = (
        select(Face.photo_id)
        .where(Face.person_id.in_(wanted))
        .group_by(Face.photo_id)
        .having(func.count(func.distinct(Face.person_id)) == len(wanted))
        .order_by(Face.photo_id)
    )
    return list(session.scalars(q))


def face_evidence(session: Session, photo_ids: Iterable[int]) -> dict[int, tuple[int, float]]:
    """(face count, largest face area as a fraction of the photo) per scanned photo."""
    ids = sorted(set(photo_ids))
    out: dict[int, tuple[int, float]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for pid in session.scalars(select(FaceScan.photo_id).where(FaceScan.photo_id.in_(chunk))):
            out[pid] = (0, 0.0)
        for pid, n, area in session.execute(
            select(Face.photo_id, func.count(Face.id), func.max(Face.w * Face.h))
            .where(Face.photo_id.in_(chunk))
            .group_by(Face.photo_id)
        ):
            out[pid] = (int(n), float(area or 0.0))
    return out


# --------------------------------------------------------------------------- corrections


def _clean_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name or len(name) > MAX_NAME:
        raise InvalidCorrectionError(f"a name must be 1 to {MAX_NAME} characters")
    return name


def create_person(session: Session, name: str | None = None) -> Person:
    person = Person(name=_clean_name(name) if name is not None else None)
    session.add(person)
    session.flush()
    return person


def name_person(session: Session, person: Person, name: str) -> Person:
    """Name ``person``; its current faces become the user's (see module doc)."""
    person.name = _clean_name(name)
    person.updated_at = utcnow()
    session.execute(
        update(Face).where(Face.person_id == person.id).values(assigned_by=ASSIGNED_USER)
    )
    return person


def set_birth_date(session: Session, person: Person, born: date | None) -> int:
    """Set (or clear) the birth date; frees the person's faces in earlier photos (even
    confirmed ones: the date is the user's newest word). Returns how many were freed."""
    person.birth_date = born
    person.updated_at = utcnow()
    if born is None:
        return 0
    early = select(Photo.id).where(Photo.taken_at < datetime.combine(born, time()))
    result = session.execute(
        update(Face)
        .where(Face.person_id == person.id, Face.photo_id.in_(early))
        .values(person_id=None, assigned_by=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def merge_people(session: Session, keep: Person, others: Sequence[Person]) -> Person:
    """Merge ``others`` into ``keep``; every face of them becomes the user's. ``keep`` takes
    a name or birth date it lacks from the merged people; their rejections carry over."""
    ids = [p.id for p in others if p.id != keep.id]
    if not ids:
        raise InvalidCorrectionError("merge needs at least one other person")
    record: dict[str, Any] = {
        "keep": {"name": keep.name, "birth_date": _iso_date(keep.birth_date)},
        "people": [
            {"id": p.id, "name": p.name, "birth_date": _iso_date(p.birth_date)}
            for p in others
            if p.id != keep.id
        ],
        "faces": [
            [fid, pid, by]
            for fid, pid, by in session.execute(
                select(Face.id, Face.person_id, Face.assigned_by).where(
                    Face.person_id.in_([keep.id, *ids])
                )
            )
        ],
        "rejections": [],  # copied onto keep by the merge
        "their_rejections": [  # the merged people's own (deleted with them)
            [fid, pid]
            for fid, pid in session.execute(
                select(FaceRejection.face_id, FaceRejection.person_id).where(
                    FaceRejection.person_id.in_(ids)
                )
            )
        ],
    }
    already = set(
        session.scalars(select(FaceRejection.face_id).where(FaceRejection.person_id == keep.id))
    )
    for other in others:
        keep.name = keep.name or other.name
        keep.birth_date = keep.birth_date or other.birth_date
    session.execute(
        update(Face)
        .where(Face.person_id.in_([keep.id, *ids]))
        .values(person_id=keep.id, assigned_by=ASSIGNED_USER)
    )
    for face_id in session.scalars(
        select(FaceRejection.face_id).where(FaceRejection.person_id.in_(ids))
    ):
        if face_id not in already:
            record["rejections"].append(face_id)
            already.add(face_id)
        insert_ignore(
            session,
            FaceRejection,
            {"face_id": face_id, "person_id": keep.id, "created_at": utcnow()},
            ["face_id", "person_id"],
        )
    # A face rejected from one of them may now sit in keep: the rejection wins.
    rejected = select(FaceRejection.face_id).where(FaceRejection.person_id == keep.id)
    session.execute(
        update(Face)
        .where(Face.person_id == keep.id, Face.id.in_(rejected))
        .values(person_id=None, assigned_by=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(Person).where(Person.id.in_(ids)))
    keep.updated_at = utcnow()
    session.add(PersonMerge(keep_id=keep.id, record=record, created_at=utcnow()))
    return keep


def _iso_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def latest_merge(session: Session, keep_id: int) -> PersonMerge | None:
    """The newest merge into ``keep_id`` not undone yet."""
    return session.scalar(
        select(PersonMerge)
        .where(PersonMerge.keep_id == keep_id, PersonMerge.undone_at.is_(None))
        .order_by(PersonMerge.id.desc())
        .limit(1)
    )


def undo_merge(session: Session, merge_id: int) -> tuple[list[int], int]:
    """Undo a merge: the merged people come back (same ids, names, birth dates), each face
    still with the kept person (or freed by the merge) returns to its earlier person, and
    the rejections the merge copied are removed. (people restored, faces moved back)."""
    merge = session.get(PersonMerge, merge_id)
    if merge is None:
        raise MergeNotFoundError(f"no merge {merge_id}")
    if merge.undone_at is not None:
        raise InvalidCorrectionError(f"merge {merge_id} was already undone")
    record = merge.record
    keep_id = merge.keep_id
    restored = []
    for p in record["people"]:
        if session.get(Person, p["id"]) is None:
            born = date.fromisoformat(p["birth_date"]) if p["birth_date"] else None
            session.add(Person(id=p["id"], name=p["name"], birth_date=born, created_at=utcnow()))
            restored.append(p["id"])
    session.flush()
    for fid, pid in record.get("their_rejections", []):
        if session.get(Face, fid) is not None and session.get(Person, pid) is not None:
            _reject(session, fid, pid)
    keep = session.get(Person, keep_id) if keep_id is not None else None
    if keep is not None:
        keep.name = record["keep"]["name"]
        born = record["keep"]["birth_date"]
        keep.birth_date = date.fromisoformat(born) if born else None
        if record["rejections"]:
            session.execute(
                delete(FaceRejection).where(
                    FaceRejection.person_id == keep_id,
                    FaceRejection.face_id.in_(record["rejections"]),
                )
            )
    moved = 0
    for fid, pid, by in record["faces"]:
        face = session.get(Face, fid)
        if face is None or face.dismissed_at is not None:
            continue
        if face.person_id in (keep_id, None) and (face.person_id, face.assigned_by) != (pid, by):
            face.person_id, face.assigned_by = pid, by
            moved += 1
    merge.undone_at = utcnow()
    return restored, moved


def dismiss_faces(session: Session, face_ids: Sequence[int]) -> int:
    """ "Not a face": hide the detections everywhere and free them from their person."""
    faces = _faces(session, face_ids)
    now = utcnow()
    for face in faces:
        face.dismissed_at = now
        face.person_id = None
        face.assigned_by = None
    return len(faces)


def _faces(session: Session, face_ids: Sequence[int]) -> list[Face]:
    ids = sorted(set(int(i) for i in face_ids))
    if not ids:
        raise InvalidCorrectionError("no faces given")
    faces = list(session.scalars(select(Face).where(Face.id.in_(ids))))
    found = {f.id for f in faces}
    missing = [i for i in ids if i not in found]
    if missing:
        raise FaceNotFoundError(f"no face {missing[0]}")
    return faces


def _reject(session: Session, face_id: int, person_id: int) -> None:
    insert_ignore(
        session,
        FaceRejection,
        {"face_id": face_id, "person_id": person_id, "created_at": utcnow()},
        ["face_id", "person_id"],
    )


def move_faces(session: Session, face_ids: Sequence[int], target: Person | None) -> Person:
    """Move faces to ``target`` (None: a new person); each face is rejected from the person
    it leaves, so no re-clustering brings it back there."""
    faces = _faces(session, face_ids)
    if target is None:
        target = create_person(session)
    banned = set(
        session.scalars(
            select(FaceRejection.face_id).where(
                FaceRejection.person_id == target.id,
                FaceRejection.face_id.in_([f.id for f in faces]),
            )
        )
    )
    for face in faces:
        if face.person_id is not None and face.person_id != target.id:
            _reject(session, face.id, face.person_id)
        if face.id in banned:  # the user changed their mind: the newest word wins
            session.execute(
                delete(FaceRejection).where(
                    FaceRejection.face_id == face.id, FaceRejection.person_id == target.id
                )
            )
        face.person_id = target.id
        face.assigned_by = ASSIGNED_USER
    return target


def reject_faces(session: Session, face_ids: Sequence[int], person: Person) -> int:
    """ "Not this person": remember it, and free the faces that were with ``person``."""
    faces = _faces(session, face_ids)
    for face in faces:
        _reject(session, face.id, person.id)
        if face.person_id == person.id:
            face.person_id = None
            face.assigned_by = None
    return len(faces)


def delete_empty_people(session: Session) -> int:
    """Remove unnamed people with no face left (clustering leftovers)."""
    used = select(Face.person_id).where(Face.person_id.is_not(None)).distinct()
    result = session.execute(
        delete(Person)
        .where(Person.name.is_(None), Person.id.not_in(used))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def purge(session: Session) -> dict[str, int]:
    """Delete every face, person, rejection and scan record (privacy switch)."""
    counts = {}
    for name, model in (
        ("rejections", FaceRejection),
        ("faces", Face),
        ("people", Person),
        ("scans", FaceScan),
    ):
        counts[name] = int(session.execute(delete(model)).rowcount or 0)
    return counts


# --------------------------------------------------------------------------- banning


def banned_map(session: Session, face_ids: Iterable[int] | None = None) -> dict[int, set[int]]:
    """face id -> people it must not join: its rejections, and people born after its photo."""
    banned: dict[int, set[int]] = {}
    q = select(FaceRejection.face_id, FaceRejection.person_id)
    for fid, pid in session.execute(q):
        banned.setdefault(fid, set()).add(pid)
    born = list(
        session.execute(select(Person.id, Person.birth_date).where(Person.birth_date.is_not(None)))
    )
    if born:
        q2 = (
            select(Face.id, Photo.taken_at)
            .join(Photo, Photo.id == Face.photo_id)
            .where(Photo.taken_at.is_not(None))
        )
        wanted = set(face_ids) if face_ids is not None else None
        for fid, taken in session.execute(q2):
            if wanted is not None and fid not in wanted:
                continue
            for pid, birth in born:
                if taken.date() < birth:
                    banned.setdefault(fid, set()).add(pid)
    return banned


# --------------------------------------------------------------------------- re-clustering


@dataclass
class ReclusterSummary:
    """What a re-clustering did (``smartalbum faces recluster``, the job's result)."""

    faces: int = 0
    locked: int = 0
    clusters: int = 0
    assigned: int = 0
    unassigned: int = 0
    new_people: int = 0
    removed_people: int = 0
    changed: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def recluster(
    factory: sessionmaker[Session], *, threshold: float, min_cluster: int = 2
) -> ReclusterSummary:
    """Re-cluster every face the user did not place, keeping every correction (one
    transaction: a killed run changes nothing, a repeated run finds the same people)."""
    summary = ReclusterSummary()
    with session_scope(factory) as s:
        rows = s.execute(
            select(Face.id, Face.photo_id, Face.embedding, Face.person_id, Face.assigned_by)
            .where(Face.dismissed_at.is_(None))
            .order_by(Face.id)
        ).all()
        summary.faces = len(rows)
        if not rows:
            summary.removed_people = delete_empty_people(s)
            return summary
        ids = [r.id for r in rows]
        vectors = np.stack([from_bytes(r.embedding) for r in rows])
        locked = {
            r.id: r.person_id
            for r in rows
            if r.assigned_by == ASSIGNED_USER and r.person_id is not None
        }
        previous = {r.id: r.person_id for r in rows if r.id not in locked and r.person_id}
        plan = cluster.plan_recluster(
            ids,
            vectors,
            locked=locked,
            previous=previous,
            banned=banned_map(s),
            threshold=threshold,
            min_cluster=min_cluster,
            photos={r.id: r.photo_id for r in rows},
        )
        summary.locked, summary.clusters = len(locked), plan.clusters
        existing = set(s.scalars(select(Person.id)))
        new_ids: dict[int, int] = {}
        for token in range(1, plan.new_people + 1):
            new_ids[-token] = create_person(s).id
        existing.update(new_ids.values())
        before = {r.id: (r.person_id, r.assigned_by) for r in rows}
        by_person: dict[int | None, list[int]] = {}
        changed: dict[int | None, list[int]] = {}
        for fid in ids:
            if fid in locked:
                continue
            target = plan.assign.get(fid)
            if target is not None:
                target = new_ids.get(target, target) if target < 0 else target
                if target not in existing:
                    target = None
            by_person.setdefault(target, []).append(fid)
            if before[fid] != (target, ASSIGNED_AUTO if target else None):
                changed.setdefault(target, []).append(fid)
        for target, fids in changed.items():  # only rows that change are written
            for start in range(0, len(fids), 500):
                s.execute(
                    update(Face)
                    .where(Face.id.in_(fids[start : start + 500]))
                    .values(person_id=target, assigned_by=ASSIGNED_AUTO if target else None)
                )
        summary.assigned = sum(len(v) for k, v in by_person.items() if k is not None)
        summary.unassigned = len(by_person.get(None, []))
        summary.new_people = plan.new_people
        summary.changed = sum(len(v) for v in changed.values())
        summary.removed_people = delete_empty_people(s)
    return summary
