"""Reading the catalog: plain photo records for the duplicates, trips, organise, review and
web layers, plus corrections, errors and the model-version keys.

Callers get :class:`PhotoRecord` objects (plain dataclasses, detached from any session),
so pure logic over records never has to know SQLAlchemy. Records are loaded in chunks of
a few hundred photos with one query per related table, so iterating 50,000 photos costs
a few hundred queries, not 200,000.

Which label counts: the latest :class:`~smartalbum.library.schema.Correction` of a photo
wins over any prediction, everywhere (:attr:`PhotoRecord.label`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import and_, bindparam, exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.library.db import insert_ignore
from smartalbum.library.schema import (
    FILE_MISSING,
    FILE_PRESENT,
    Correction,
    Embedding,
    File,
    IndexErrorRecord,
    Photo,
    Prediction,
    to_unsigned64,
    utcnow,
)
from smartalbum.model.heads import Prediction as HeadPrediction

if TYPE_CHECKING:
    from smartalbum.model.engine import Engine

CHUNK = 500


# --------------------------------------------------------------------------- versions


@dataclass(frozen=True)
class ModelKey:
    """Which stored results belong to the running model: backbone version + head version."""

    backbone_version: str
    head: str
    head_version: str


def model_key(engine: Engine, head: str | None = None) -> ModelKey:
    """The :class:`ModelKey` of ``engine``'s head (default head when None)."""
    h = engine.head(head)
    return ModelKey(
        backbone_version=engine.bundle.backbone_version, head=h.name, head_version=h.version
    )


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class PredictionRecord(HeadPrediction):
    """A stored prediction: the head's result (same ``to_dict``) and which head, head
    version and backbone made it, and when."""

    head: str
    head_version: str
    backbone_version: str
    created_at: datetime | None = None


@dataclass
class PhotoRecord:
    """One photo as the rest of Smart Album sees it (no SQLAlchemy attached)."""

    id: int
    sha256: str
    size: int
    format: str
    width: int
    height: int
    taken_at: datetime | None
    taken_at_source: str | None
    tz_offset_min: int | None
    camera_make: str | None
    camera_model: str | None
    latitude: float | None
    longitude: float | None
    altitude: float | None
    city: str | None
    region: str | None
    country: str | None
    blur: float | None
    exposure_mean: float | None
    exposure_dark: float | None
    exposure_bright: float | None
    exposure_verdict: str | None
    phash: int | None  # unsigned 64-bit (ready for imaging.hashing.hamming)
    dhash: int | None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    paths: list[str] = field(default_factory=list)  # present copies, oldest first
    missing_paths: list[str] = field(default_factory=list)
    embedding: np.ndarray | None = None
    prediction: PredictionRecord | None = None
    correction: str | None = None  # the latest user correction's label

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (no embedding; times as ISO 8601, taken_at in local time)."""
        out: dict[str, Any] = {
            k: getattr(self, k) for k in _PHOTO_COLUMNS if k not in ("created_at", "updated_at")
        }
        for key in ("taken_at", "created_at", "updated_at"):
            value = getattr(self, key)
            out[key] = value.isoformat() if value is not None else None
        for key in ("phash", "dhash"):
            out[key] = f"{out[key]:016x}" if out[key] is not None else None
        out.update(
            paths=list(self.paths),
            missing_paths=list(self.missing_paths),
            camera=self.camera,
            label=self.label,
            uncertain=self.uncertain,
            correction=self.correction,
            prediction=self.prediction.to_dict() if self.prediction else None,
        )
        return out

    @property
    def path(self) -> str | None:
        """The first present copy (None when every copy is missing)."""
        return self.paths[0] if self.paths else None

    @property
    def gps(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return (self.latitude, self.longitude)

    @property
    def label(self) -> str | None:
        """The label that counts: the user's correction, else the prediction's label."""
        if self.correction is not None:
            return self.correction
        return self.prediction.label if self.prediction else None

    @property
    def uncertain(self) -> bool:
        """A corrected photo is never uncertain; an unpredicted one is."""
        if self.correction is not None:
            return False
        return self.prediction.uncertain if self.prediction else True

    @property
    def taken_at_utc(self) -> datetime | None:
        """Capture time in UTC (naive) when the offset is known, else None."""
        if self.taken_at is None or self.tz_offset_min is None:
            return None
        return self.taken_at - timedelta(minutes=self.tz_offset_min)

    @property
    def camera(self) -> str | None:
        """``"NIKON COOLPIX P6000"``: make and model, without repeating the make."""
        make, model = self.camera_make or "", self.camera_model or ""
        if make and model.lower().startswith(make.split()[0].lower()):
            return model
        return " ".join(p for p in (make, model) if p) or None


_PHOTO_COLUMNS = [c.key for c in Photo.__table__.columns]


def _record(photo: Photo) -> PhotoRecord:
    values = {k: getattr(photo, k) for k in _PHOTO_COLUMNS}
    for key in ("phash", "dhash"):
        if values[key] is not None:
            values[key] = to_unsigned64(values[key])
    return PhotoRecord(**values)


def iter_photos(
    session: Session,
    *,
    backbone_version: str | None = None,
    head: str | None = None,
    head_version: str | None = None,
    include_missing: bool = False,
    ids: Iterable[int] | None = None,
    with_embeddings: bool | None = None,
    chunk_size: int = CHUNK,
) -> Iterator[PhotoRecord]:
    """Photos in id order, with their copies, prediction, correction and embedding.

    * ``include_missing=False`` (default) yields only photos with at least one present file.
    * ``backbone_version``: attach that version's embedding (``with_embeddings`` defaults to
      True when a version is given); it also restricts predictions to that backbone.
    * ``head``: attach that head's prediction — for ``head_version`` when given, else the
      most recent one. Without ``head`` no prediction is attached.
    * ``ids``: only these photos.
    """
    if with_embeddings is None:
        with_embeddings = backbone_version is not None
    options = {
        "backbone_version": backbone_version,
        "head": head,
        "head_version": head_version,
        "with_embeddings": with_embeddings,
    }
    if ids is not None:
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), chunk_size):
            q = select(Photo).where(Photo.id.in_(wanted[start : start + chunk_size]))
            yield from _load_chunk(session, q, include_missing, options)
        return
    last = 0
    while True:
        q = select(Photo).where(Photo.id > last).limit(chunk_size)
        records = _load_chunk(session, q, include_missing, options)
        if not records:
            return
        yield from records
        last = records[-1].id


def _load_chunk(
    session: Session, q: Any, include_missing: bool, options: dict[str, Any]
) -> list[PhotoRecord]:
    if not include_missing:
        q = q.where(exists().where(and_(File.photo_id == Photo.id, File.status == FILE_PRESENT)))
    records = [_record(p) for p in session.scalars(q.order_by(Photo.id))]
    if records:
        _attach(session, records, **options)
    return records


def get_photo(session: Session, photo_id: int, **options: Any) -> PhotoRecord | None:
    """One photo (even with every copy missing), or None; options as :func:`iter_photos`."""
    options.setdefault("include_missing", True)
    return next(iter_photos(session, ids=[photo_id], **options), None)


def photo_id_for_sha256(session: Session, sha256: str) -> int | None:
    return session.scalar(select(Photo.id).where(Photo.sha256 == sha256))


def photo_id_for_path(session: Session, path: str) -> int | None:
    return session.scalar(select(File.photo_id).where(File.path == str(path)))


def count_photos(session: Session, *, include_missing: bool = False) -> int:
    q = select(func.count(Photo.id))
    if not include_missing:
        q = q.where(exists().where(and_(File.photo_id == Photo.id, File.status == FILE_PRESENT)))
    return int(session.scalar(q) or 0)


def _attach(
    session: Session,
    records: Sequence[PhotoRecord],
    *,
    backbone_version: str | None,
    head: str | None,
    head_version: str | None,
    with_embeddings: bool,
) -> None:
    by_id = {r.id: r for r in records}
    ids = list(by_id)
    files = session.execute(
        select(File.photo_id, File.path, File.status)
        .where(File.photo_id.in_(ids))
        .order_by(File.photo_id, File.id)
    )
    for photo_id, path, status in files:
        target = by_id[photo_id].paths if status == FILE_PRESENT else by_id[photo_id].missing_paths
        target.append(path)

    if with_embeddings and backbone_version is not None:
        rows = session.execute(
            select(Embedding.photo_id, Embedding.vector).where(
                Embedding.photo_id.in_(ids), Embedding.backbone_version == backbone_version
            )
        )
        for photo_id, vector in rows:
            by_id[photo_id].embedding = vector_from_bytes(vector)

    if head is not None:
        q = select(Prediction).where(Prediction.photo_id.in_(ids), Prediction.head == head)
        if head_version is not None:
            q = q.where(Prediction.head_version == head_version)
        if backbone_version is not None:
            q = q.where(Prediction.backbone_version == backbone_version)
        for p in session.scalars(q.order_by(Prediction.id)):  # later rows overwrite: latest wins
            by_id[p.photo_id].prediction = PredictionRecord(
                label=p.label,
                confidence=p.confidence,
                uncertain=p.uncertain,
                probabilities=dict(p.probabilities),
                head=p.head,
                head_version=p.head_version,
                backbone_version=p.backbone_version,
                created_at=p.created_at,
            )

    for photo_id, label in latest_corrections(session, ids).items():
        by_id[photo_id].correction = label


# --------------------------------------------------------------------------- embeddings


def vector_to_bytes(vector: np.ndarray) -> bytes:
    """float32 little-endian bytes (the stored form)."""
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def vector_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def load_embeddings(
    session: Session, photo_ids: Sequence[int], backbone_version: str
) -> dict[int, np.ndarray]:
    """Stored embeddings of these photos for one backbone version."""
    out: dict[int, np.ndarray] = {}
    for start in range(0, len(photo_ids), CHUNK):
        chunk = list(photo_ids[start : start + CHUNK])
        rows = session.execute(
            select(Embedding.photo_id, Embedding.vector).where(
                Embedding.photo_id.in_(chunk), Embedding.backbone_version == backbone_version
            )
        )
        out.update({pid: vector_from_bytes(v) for pid, v in rows})
    return out


# --------------------------------------------------------------------------- corrections


def add_correction(
    session: Session,
    photo_id: int,
    label: str,
    *,
    head: str | None = None,
    source: str = "user",
) -> Correction:
    """Record a user's label for a photo (flushes; the caller commits)."""
    label = label.strip()
    if not label:
        raise ValueError("a correction needs a non-empty label")
    if session.get(Photo, photo_id) is None:
        raise LookupError(f"no photo with id {photo_id}")
    correction = Correction(photo_id=photo_id, label=label, head=head, source=source)
    session.add(correction)
    session.flush()
    return correction


def latest_corrections(session: Session, photo_ids: Sequence[int]) -> dict[int, str]:
    """photo id -> label of its latest correction (highest id), for the photos that have one."""
    out: dict[int, str] = {}
    for start in range(0, len(photo_ids), CHUNK):
        chunk = list(photo_ids[start : start + CHUNK])
        latest = (
            select(func.max(Correction.id).label("id"))
            .where(Correction.photo_id.in_(chunk))
            .group_by(Correction.photo_id)
            .subquery()
        )
        rows = session.execute(
            select(Correction.photo_id, Correction.label).join(latest, Correction.id == latest.c.id)
        )
        out.update({pid: label for pid, label in rows})
    return out


# --------------------------------------------------------------------------- errors & stats


def list_index_errors(session: Session) -> list[IndexErrorRecord]:
    """Files that could not be indexed, newest first (``smartalbum errors``)."""
    return list(
        session.scalars(
            select(IndexErrorRecord).order_by(
                IndexErrorRecord.created_at.desc(), IndexErrorRecord.path
            )
        )
    )


def stats(session: Session) -> dict[str, int]:
    """Counts for a dashboard: photos (with a present copy), files, missing files, errors."""
    return {
        "photos": count_photos(session),
        "photos_all": int(session.scalar(select(func.count(Photo.id))) or 0),
        "files": int(session.scalar(select(func.count(File.id))) or 0),
        "files_missing": int(
            session.scalar(select(func.count(File.id)).where(File.status == FILE_MISSING)) or 0
        ),
        "errors": int(session.scalar(select(func.count(IndexErrorRecord.id))) or 0),
        "corrections": int(session.scalar(select(func.count(Correction.id))) or 0),
    }


# --------------------------------------------------------------------------- web result cache


# Built once: composing this statement per request cost ~1.5 ms of Python (SQLAlchemy).
_CACHE_LOOKUP = (
    select(
        Photo.id,
        Prediction.label,
        Prediction.confidence,
        Prediction.uncertain,
        Prediction.probabilities,
    )
    .outerjoin(
        Prediction,
        and_(
            Prediction.photo_id == Photo.id,
            Prediction.head == bindparam("head"),
            Prediction.head_version == bindparam("head_version"),
            Prediction.backbone_version == bindparam("backbone_version"),
        ),
    )
    .where(Photo.sha256 == bindparam("sha256"))
)


class CatalogResultCache:
    """The web app's :class:`~smartalbum.web.cache.ResultCache` answered from the catalog.

    ``get`` finds a stored prediction for the photo's SHA-256 under the running model's
    backbone and head versions (the key's ``model_version`` must be the engine's bundle
    version, so another bundle never hits). ``put`` adds the prediction when the photo is
    already in the catalog; uploads of photos the catalog does not know go to ``fallback``
    (e.g. an LRUResultCache), because a prediction alone is not a complete photo row.

    One query per upload: ``get`` also learns whether the catalog knows the photo at all,
    and remembers the SHA-256s it did not know (a few thousand, newest kept) so that the
    ``put`` after classifying goes straight to ``fallback``. A photo indexed in between is
    then not given the web's prediction; the indexer computes its own.
    """

    UNKNOWN_KEPT = 4096

    def __init__(
        self, factory: sessionmaker[Session], engine: Engine, fallback: Any | None = None
    ) -> None:
        self.factory = factory
        self.engine = engine
        self.fallback = fallback
        self._unknown: dict[str, None] = {}  # insertion-ordered: the oldest go first
        self._lock = threading.Lock()

    def _key(self, head: str) -> ModelKey | None:
        try:
            return model_key(self.engine, head)
        except KeyError:
            return None

    def get(self, key: Any) -> dict[str, Any] | None:
        mk = self._key(key.head) if key.model_version == self.engine.version else None
        if mk is not None:
            with self.factory() as session:
                found = session.execute(
                    _CACHE_LOOKUP,
                    {
                        "sha256": key.sha256,
                        "head": mk.head,
                        "head_version": mk.head_version,
                        "backbone_version": mk.backbone_version,
                    },
                ).first()
            if found is None:
                self._remember_unknown(key.sha256)
            elif found.label is not None:
                return {
                    "label": found.label,
                    "confidence": round(found.confidence, 6),
                    "uncertain": found.uncertain,
                    "probabilities": {
                        k: round(float(v), 6) for k, v in found.probabilities.items()
                    },
                }
        return self.fallback.get(key) if self.fallback is not None else None

    def put(self, key: Any, value: dict[str, Any]) -> None:
        mk = self._key(key.head) if key.model_version == self.engine.version else None
        if mk is not None and not self._forget_unknown(key.sha256):
            with self.factory() as session:
                photo_id = photo_id_for_sha256(session, key.sha256)
                if photo_id is not None:
                    insert_ignore(
                        session,
                        Prediction,
                        {
                            "photo_id": photo_id,
                            "head": mk.head,
                            "head_version": mk.head_version,
                            "backbone_version": mk.backbone_version,
                            "label": value["label"],
                            "confidence": float(value["confidence"]),
                            "uncertain": bool(value["uncertain"]),
                            "probabilities": dict(value["probabilities"]),
                            "created_at": utcnow(),
                        },
                        ["photo_id", "head", "head_version", "backbone_version"],
                    )
                    session.commit()
                    return
        if self.fallback is not None:
            self.fallback.put(key, value)

    def _remember_unknown(self, sha256: str) -> None:
        with self._lock:
            self._unknown[sha256] = None
            while len(self._unknown) > self.UNKNOWN_KEPT:
                del self._unknown[next(iter(self._unknown))]

    def _forget_unknown(self, sha256: str) -> bool:
        """True when ``get`` found the photo unknown (and forget it now)."""
        with self._lock:
            return self._unknown.pop(sha256, False) is None


def utc_naive(when: datetime) -> datetime:
    """An aware datetime -> naive UTC (how the catalog stores times)."""
    if when.tzinfo is None:
        return when
    return when.astimezone(timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------------- which head counts


def default_head(session: Session, head: str | None = None) -> str | None:
    """The head whose labels count: given, else settings, else the bundle's default, else
    the head of the most recent prediction in the catalog (None when nothing is predicted)."""
    from smartalbum.config import get_settings

    if head:
        return head
    settings = get_settings()
    if settings.model.head:
        return settings.model.head
    try:
        from smartalbum.model.bundle import Bundle

        return Bundle.load(settings.model.bundle).default_head
    except Exception:  # noqa: BLE001 - no usable bundle: fall back to what the catalog holds
        pass
    return session.scalar(select(Prediction.head).order_by(Prediction.id.desc()).limit(1))


def current_backbone_version(session: Session) -> str | None:
    """The backbone version whose embeddings to compare: the installed bundle's, else the
    version with the most stored embeddings."""
    from smartalbum.config import get_settings

    try:
        from smartalbum.model.bundle import Bundle

        version = Bundle.load(get_settings().model.bundle).backbone_version
        if session.scalar(select(Embedding.id).where(Embedding.backbone_version == version)):
            return version
    except Exception:  # noqa: BLE001 - no usable bundle
        pass
    return session.scalar(
        select(Embedding.backbone_version)
        .group_by(Embedding.backbone_version)
        .order_by(func.count(Embedding.id).desc())
        .limit(1)
    )


def load_photos(
    factory: sessionmaker[Session], *, head: str | None = None
) -> tuple[list[PhotoRecord], str | None]:
    """Every photo with a present copy (with the head's latest prediction and corrections),
    and the head whose labels they carry (:func:`default_head`)."""
    with factory() as session:
        name = default_head(session, head)
        return list(iter_photos(session, head=name)), name
