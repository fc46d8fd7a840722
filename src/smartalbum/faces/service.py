"""Scanning photos of the catalog for faces, and assigning each new face to a person.

A photo is read from its first present copy (at ``faces.detect_size``), checked to still be
the photo the catalog knows (same SHA-256: a file edited in place is not mistaken for it),
its faces detected, described and stored with a :class:`FaceScan` row in one transaction.
The scan row is inserted first with ``ON CONFLICT DO NOTHING``: a second worker (or a
re-sent job) scanning the same photo finds it taken and rolls back, so faces are never
stored twice and a killed scan loses only its open transaction.

Assignment is incremental: each new face joins the person of its nearest assigned face
within ``faces.match_threshold`` (never a person it is banned from), else forms a new person
with unassigned faces near it once there are ``faces.min_cluster`` of them. The nightly
re-cluster (:func:`smartalbum.faces.people.recluster`) tidies what arrival order got wrong.

A scan spread over several workers (faces.jobs) stores faces without assigning them
(``assign=False``: marked pending), because each worker's in-memory index would miss the
faces the others just found; :meth:`FaceScanner.assign_pending` then assigns every pending
face in one process, in photo order — the same people a single-worker scan finds.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.atomic import atomic_open
from smartalbum.config import FaceSettings
from smartalbum.faces import cluster
from smartalbum.faces.detect import DETECTOR_VERSION, detect_faces
from smartalbum.faces.embed import describe_faces, from_bytes, to_bytes
from smartalbum.faces.errors import FacesDisabledError
from smartalbum.faces.people import create_person
from smartalbum.imaging.decode import load_photo
from smartalbum.imaging.errors import PhotoError
from smartalbum.library.db import insert_ignore, session_scope
from smartalbum.library.schema import FILE_PRESENT, File, Photo, utcnow
from smartalbum.library.schema_faces import (
    ASSIGNED_AUTO,
    ASSIGNED_PENDING,
    Face,
    FaceScan,
    Person,
)

log = logging.getLogger(__name__)


class _Unavailable(PhotoError):
    """The catalog's photo is not on disk as indexed (moved away or edited in place)."""

    code = "photo_unavailable"
    title = "Photo unavailable"


@dataclass
class ScanSummary:
    photos: int = 0  # photos looked at in this run
    skipped: int = 0  # already scanned (by another run or worker)
    faces: int = 0
    assigned: int = 0
    new_people: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (item, code, message)

    def to_dict(self) -> dict[str, object]:
        return {
            "photos": self.photos,
            "skipped": self.skipped,
            "faces": self.faces,
            "assigned": self.assigned,
            "new_people": self.new_people,
            "errors": len(self.errors),
        }


def pending_photos(session: Session, *, rescan: bool = False) -> list[int]:
    """Ids of present photos not scanned yet (``rescan``: every present photo)."""
    present = exists().where(and_(File.photo_id == Photo.id, File.status == FILE_PRESENT))
    q = select(Photo.id).where(present).order_by(Photo.id)
    if not rescan:
        q = q.where(~exists().where(FaceScan.photo_id == Photo.id))
    return list(session.scalars(q))


def photo_ids_for_paths(session: Session, paths: Iterable[str]) -> list[int]:
    """Catalog photo ids of files (absolute paths) or of everything under folders."""
    from smartalbum.library.paths import under_roots

    roots = [Path(p).expanduser().resolve() for p in paths]
    q = (
        select(File.photo_id)
        .distinct()
        .where(File.status == FILE_PRESENT, under_roots(File.path, roots))
    )
    return sorted(session.scalars(q))


class _Index:
    """Every face's descriptor and person (-1: nobody), in memory for the run (10,000
    faces: 5 MB). Arrays grow by doubling, so adding a face is amortised O(1)."""

    def __init__(self, session: Session) -> None:
        # Pending faces (a spread scan's, not assigned yet) join as they are assigned;
        # dismissed ones ("not a face") never do.
        settled = or_(Face.assigned_by.is_(None), Face.assigned_by != ASSIGNED_PENDING)
        rows = session.execute(
            select(Face.id, Face.embedding, Face.person_id).where(
                settled, Face.dismissed_at.is_(None)
            )
        ).all()
        self.n = len(rows)
        capacity = max(1024, 2 * self.n)
        self.ids = np.zeros(capacity, np.int64)
        self.vectors = np.zeros((capacity, 128), np.float32)
        self.persons = np.full(capacity, -1, np.int64)
        for i, r in enumerate(rows):
            self.ids[i] = r.id
            self.vectors[i] = from_bytes(r.embedding)
            self.persons[i] = r.person_id if r.person_id is not None else -1
        self.births = {
            pid: born
            for pid, born in session.execute(
                select(Person.id, Person.birth_date).where(Person.birth_date.is_not(None))
            )
        }

    def drop(self, face_ids: Iterable[int]) -> None:
        keep = ~np.isin(self.ids[: self.n], list(face_ids))
        n = int(keep.sum())
        self.ids[:n] = self.ids[: self.n][keep]
        self.vectors[:n] = self.vectors[: self.n][keep]
        self.persons[:n] = self.persons[: self.n][keep]
        self.n = n

    def add(self, face_id: int, vector: np.ndarray, person: int | None) -> None:
        if self.n == len(self.ids):
            grow = len(self.ids)
            self.ids = np.concatenate([self.ids, np.zeros(grow, np.int64)])
            self.vectors = np.concatenate([self.vectors, np.zeros((grow, 128), np.float32)])
            self.persons = np.concatenate([self.persons, np.full(grow, -1, np.int64)])
        self.ids[self.n] = face_id
        self.vectors[self.n] = vector
        self.persons[self.n] = -1 if person is None else person
        self.n += 1

    def set_person(self, face_ids: Iterable[int], person: int) -> None:
        self.persons[: self.n][np.isin(self.ids[: self.n], list(face_ids))] = person


class FaceScanner:
    """Scans catalog photos for faces (one instance per job or CLI run)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: FaceSettings,
        *,
        thumbnails: Path | None = None,
    ) -> None:
        """``thumbnails``: the face-crop cache folder (:func:`thumbnail_dir`); given, each
        face's crop is cut from the image the scan already decoded, so the people page never
        decodes an original. None: no crops (they are cut on first request instead)."""
        if not settings.enabled:
            raise FacesDisabledError(
                "face processing is switched off (SMARTALBUM_FACES__ENABLED=false)"
            )
        self.factory = factory
        self.settings = settings
        self.thumbnails = thumbnails
        self._index: _Index | None = None

    def scan(
        self,
        photo_ids: Iterable[int],
        *,
        rescan: bool = False,
        progress: Callable[[int], None] | None = None,
        assign: bool = True,
    ) -> ScanSummary:
        """Scan ``photo_ids`` (each once; ``rescan`` replaces faces found by an older detector
        version); ``progress(1)`` after each photo (it may raise to stop the run).
        ``assign=False``: store the faces as pending (a chunk of a spread scan)."""
        summary = ScanSummary()
        for photo_id in photo_ids:
            try:
                try:
                    self.scan_photo(photo_id, summary, rescan=rescan, assign=assign)
                except IntegrityError:
                    # The in-memory index went stale (a person merged away meanwhile):
                    # reload it and scan the photo again (its transaction rolled back).
                    self._index = None
                    self.scan_photo(photo_id, summary, rescan=rescan, assign=assign)
            except PhotoError as exc:
                summary.errors.append((str(exc.source or photo_id), exc.code, str(exc)))
            except BaseException:
                self._index = None  # may hold faces of the rolled-back transaction
                raise
            if progress is not None:
                progress(1)
        return summary

    def scan_photo(
        self, photo_id: int, summary: ScanSummary, *, rescan: bool = False, assign: bool = True
    ) -> int:
        """Detect, describe, store and assign (or, ``assign=False``, mark pending) the
        faces of one photo; returns the count."""
        with self.factory() as s:
            photo = s.get(Photo, photo_id)
            scanned = s.scalar(select(FaceScan.detector).where(FaceScan.photo_id == photo_id))
            paths = list(
                s.scalars(
                    select(File.path)
                    .where(File.photo_id == photo_id, File.status == FILE_PRESENT)
                    .order_by(File.id)
                )
            )
        if photo is None or (scanned is not None and not (rescan and scanned != DETECTOR_VERSION)):
            summary.skipped += 1
            return 0
        if not paths:
            raise _Unavailable(
                f"photo {photo.sha256[:12]}: no copy left on disk", source=photo.sha256
            )
        loaded = load_photo(paths[0], max_side=self.settings.detect_size)
        if loaded.facts.sha256 != photo.sha256:
            raise _Unavailable(
                f"{paths[0]}: the file changed since it was indexed (index it again)",
                source=paths[0],
            )
        image = loaded.image
        found = detect_faces(
            image, min_face=self.settings.min_face, min_score=self.settings.min_score
        )
        vectors = describe_faces(image, found)
        height, width = image.shape[:2]
        with session_scope(self.factory) as s:
            if scanned is not None:
                s.query(Face).filter(Face.photo_id == photo_id).delete()
                s.query(FaceScan).filter(FaceScan.photo_id == photo_id).delete()
            values = {
                "photo_id": photo_id,
                "detector": DETECTOR_VERSION,
                "faces": len(found),
                "scanned_at": utcnow(),
            }
            if not insert_ignore(s, FaceScan, values, ["photo_id"]):
                summary.skipped += 1
                return 0
            new: list[Face] = []
            for face, vector in zip(found, vectors, strict=True):
                row = Face(
                    photo_id=photo_id,
                    x=face.left / width,
                    y=face.top / height,
                    w=face.width / width,
                    h=face.height / height,
                    landmarks=[[px / width, py / height] for px, py in face.landmarks],
                    score=face.score,
                    embedding=to_bytes(vector),
                    assigned_by=None if assign else ASSIGNED_PENDING,
                )
                s.add(row)
                new.append(row)
            s.flush()
            if assign:
                self._assign(s, new, vectors, photo.taken_at, summary)
        if self.thumbnails is not None:  # after the commit: a crop never outlives its face
            for face in found:
                box = (
                    face.left / width,
                    face.top / height,
                    face.width / width,
                    face.height / height,
                )
                store_thumbnail(self.thumbnails, image, photo.sha256, box)
        summary.photos += 1
        summary.faces += len(found)
        return len(found)

    def assign_pending(self) -> ScanSummary:
        """Assign every pending face (stored by spread scans, cancelled ones' included),
        photo by photo in id order, one transaction per photo; idempotent."""
        summary = ScanSummary()
        with self.factory() as s:
            photo_ids = list(
                s.scalars(
                    select(Face.photo_id)
                    .where(Face.assigned_by == ASSIGNED_PENDING)
                    .distinct()
                    .order_by(Face.photo_id)
                )
            )
        for photo_id in photo_ids:
            try:
                self._assign_photo(photo_id, summary)
            except IntegrityError:  # a person merged away meanwhile: reload, try again
                self._index = None
                self._assign_photo(photo_id, summary)
            except BaseException:
                self._index = None
                raise
        return summary

    def _assign_photo(self, photo_id: int, summary: ScanSummary) -> None:
        with session_scope(self.factory) as s:
            faces = list(
                s.scalars(
                    select(Face)
                    .where(Face.photo_id == photo_id, Face.assigned_by == ASSIGNED_PENDING)
                    .order_by(Face.id)
                )
            )
            if not faces:
                return
            for face in faces:
                face.assigned_by = None
            taken_at = s.scalar(select(Photo.taken_at).where(Photo.id == photo_id))
            vectors = np.stack([from_bytes(f.embedding) for f in faces])
            self._assign(s, faces, vectors, taken_at, summary)
            summary.photos += 1
            summary.faces += len(faces)

    def _assign(
        self,
        s: Session,
        faces: list[Face],
        vectors: np.ndarray,
        taken_at: datetime | None,
        summary: ScanSummary,
    ) -> None:
        if self._index is None:
            self._index = _Index(s)
            self._index.drop(f.id for f in faces)  # already flushed: added below
        index = self._index
        thr = self.settings.match_threshold
        born_after = (
            {pid for pid, born in index.births.items() if taken_at.date() < born}
            if taken_at is not None
            else set()
        )
        # One person appears once in a photo: a face never joins a person (or a new
        # person's group) that another face of the same photo already holds.
        same_photo: set[int] = set()
        taken: set[int] = set()
        for face, vector in zip(faces, vectors, strict=True):
            n = index.n
            assigned = np.flatnonzero(index.persons[:n] >= 0)
            person = cluster.match(
                vector,
                index.vectors[assigned],
                index.persons[assigned],
                thr,
                banned=born_after | taken,
            )
            if person is None:
                free = np.flatnonzero(index.persons[:n] < 0)
                if len(free) + 1 >= self.settings.min_cluster:
                    d = cluster.distances(vector[None, :], index.vectors[free])[0]
                    near = [int(index.ids[free[k]]) for k in np.flatnonzero(d < thr)]
                    near = [fid for fid in near if fid not in same_photo]
                    if len(near) + 1 >= self.settings.min_cluster:
                        person = create_person(s).id
                        s.query(Face).filter(Face.id.in_(near)).update(
                            {"person_id": person, "assigned_by": ASSIGNED_AUTO},
                            synchronize_session=False,
                        )
                        index.set_person(near, person)
                        summary.new_people += 1
                        summary.assigned += len(near)
            if person is not None:
                face.person_id = person
                face.assigned_by = ASSIGNED_AUTO
                summary.assigned += 1
                taken.add(person)
            index.add(face.id, vector, person)
            same_photo.add(face.id)


def face_data_dir(data_dir: str | Path) -> Path:
    """Where face files live outside the catalog (thumbnails); deleted by :func:`purge_all`."""
    return Path(data_dir).expanduser() / "faces"


# ----------------------------------------------------------------- face crops (thumbnails)
#
# A rebuildable disk cache: one JPEG per (photo, box), named by a hash of them — never
# stale (a moved box is another name), deleted with every other face datum by the purge.

THUMB_SIDE = 160
THUMB_MARGIN = 0.35

Box = tuple[float, float, float, float]


def thumbnail_dir(data_dir: str | Path) -> Path:
    """The face-crop cache folder under ``data_dir``."""
    return face_data_dir(data_dir) / "thumbnails"


def thumbnail_key(sha256: str, box: Box) -> str:
    """The crop's cache name (also its ETag): a hash of the photo and the box."""
    x, y, w = box[:3]
    return hashlib.sha256(f"{sha256}:{x:.5f}:{y:.5f}:{w:.5f}".encode()).hexdigest()


def thumbnail_path(folder: Path, sha256: str, box: Box) -> Path:
    key = thumbnail_key(sha256, box)
    return folder / key[:2] / f"{key}.jpg"


def cut_thumbnail(image: np.ndarray, box: Box) -> Image.Image:
    """The face with some margin, at most THUMB_SIDE px (box relative to ``image``)."""
    height, width = image.shape[:2]
    x, y, w, h = box
    left = max(0, int((x - w * THUMB_MARGIN) * width))
    top = max(0, int((y - h * THUMB_MARGIN) * height))
    right = min(width, int((x + w * (1 + THUMB_MARGIN)) * width) + 1)
    bottom = min(height, int((y + h * (1 + THUMB_MARGIN)) * height) + 1)
    crop = Image.fromarray(np.ascontiguousarray(image[top:bottom, left:right]))
    crop.thumbnail((THUMB_SIDE, THUMB_SIDE))
    return crop


def store_thumbnail(folder: Path, image: np.ndarray, sha256: str, box: Box) -> Path:
    """Cut and store the crop (atomically: a reader never sees half a JPEG); a failure to
    write is logged, not raised — the cache is rebuilt on demand."""
    target = thumbnail_path(folder, sha256, box)
    if target.exists():
        return target
    try:
        with atomic_open(target) as out:
            cut_thumbnail(image, box).save(out, "JPEG", quality=85)
    except OSError as exc:
        log.warning("face crop %s not stored: %s", target, exc)
    return target


def ensure_thumbnail(folder: Path, paths: list[str], sha256: str, box: Box) -> Path | None:
    """The crop's file, cut from the first readable copy (decoded at 1024 px) when not on
    disk yet; None when no copy of the photo can be read."""
    return ensure_thumbnails(folder, paths, sha256, [box])[0]


def ensure_thumbnails(
    folder: Path, paths: list[str], sha256: str, boxes: list[Box]
) -> list[Path | None]:
    """Every box's crop file of one photo; the photo is decoded (once, at 1024 px) only when
    some crop is missing. None for each crop when no copy of the photo can be read."""
    targets = [thumbnail_path(folder, sha256, box) for box in boxes]
    missing = [box for box, target in zip(boxes, targets, strict=True) if not target.exists()]
    if not missing:
        return list(targets)
    for path in paths:
        try:
            photo = load_photo(path, max_side=1024, digest=True)
        except (PhotoError, OSError):
            continue
        if photo.facts.sha256 != sha256:
            continue
        for box in missing:
            store_thumbnail(folder, photo.image, sha256, box)
        break
    return [target if target.exists() else None for target in targets]


def purge_all(factory: sessionmaker[Session], data_dir: str | Path) -> dict[str, int]:
    """Delete every face datum: catalog rows (faces, people, rejections, scans) and the
    face thumbnails on disk. Photos and their files are not touched."""
    import shutil

    from smartalbum.faces.people import purge

    with session_scope(factory) as s:
        counts = purge(s)
    shutil.rmtree(face_data_dir(data_dir), ignore_errors=True)
    return counts


__all__ = [
    "THUMB_SIDE",
    "FaceScanner",
    "ScanSummary",
    "cut_thumbnail",
    "ensure_thumbnail",
    "ensure_thumbnails",
    "face_data_dir",
    "store_thumbnail",
    "thumbnail_dir",
    "thumbnail_key",
    "thumbnail_path",
    "pending_photos",
    "photo_ids_for_paths",
    "purge_all",
]
