"""The catalog's tables (SQLAlchemy 2 declarative models), the same on SQLite and PostgreSQL.

Identity is content: a :class:`Photo` is one SHA-256 of bytes, a :class:`File` is one path
where those bytes were seen (a photo may have several copies, and a moved file keeps its
photo). What the model computed is stored *per version*, so a new bundle never mixes with
old results and an unchanged photo is never run through the model twice:

* :class:`Embedding` — one per (photo, backbone version); the vector is float32 bytes.
* :class:`Prediction` — one per (photo, head name, head version, backbone version): a head's
  output depends on the embeddings it was given, so the backbone version is part of the key.
* :class:`Correction` — what the user said; the latest one wins over any prediction.

Choices that keep both backends happy: hashes are hex strings or *signed* 64-bit integers
(:func:`to_signed64`; SQLite and PostgreSQL BIGINT are both signed), times are naive UTC
except ``Photo.taken_at``, which is the camera's local wall-clock time with its UTC offset
stored beside it (``tz_offset_min``, NULL when unknown) — what a person means by "taken on
24 May at 9:00", whatever time zone the catalog is read in.

Changing a model here requires a new Alembic revision in ``library/migrations/versions``;
``tests/library/test_schema.py`` fails when the migrations and these models disagree.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: Constraint names are spelled out so migrations can refer to them on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

FILE_PRESENT = "present"
FILE_MISSING = "missing"
TAKEN_FROM_EXIF = "exif"
TAKEN_FROM_FILE = "file"


def utcnow() -> datetime:
    """Naive UTC now (both backends store it as is; no driver time-zone surprises)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_signed64(value: int) -> int:
    """An unsigned 64-bit hash -> the signed integer stored in a BIGINT column."""
    value = int(value) & 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned64(value: int) -> int:
    """The stored signed BIGINT -> the unsigned 64-bit hash (what ``hamming`` expects)."""
    return int(value) & 0xFFFFFFFFFFFFFFFF


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Photo(Base):
    """One picture, identified by the SHA-256 of its bytes."""

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)  # upright (after EXIF orientation)
    height: Mapped[int] = mapped_column(Integer)

    # When: camera local time + offset; source "exif" (DateTimeOriginal) or "file" (mtime).
    taken_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    taken_at_source: Mapped[str | None] = mapped_column(String(8))
    tz_offset_min: Mapped[int | None] = mapped_column(Integer)

    camera_make: Mapped[str | None] = mapped_column(String(128))
    camera_model: Mapped[str | None] = mapped_column(String(128))

    # Where: WGS-84 decimal degrees, altitude in metres; place reverse-geocoded offline.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    altitude: Mapped[float | None] = mapped_column(Float)
    city: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2), index=True)  # ISO 3166 alpha-2

    # Quality (imaging.quality): Laplacian variance; exposure mean/clipping and verdict.
    blur: Mapped[float | None] = mapped_column(Float)
    exposure_mean: Mapped[float | None] = mapped_column(Float)
    exposure_dark: Mapped[float | None] = mapped_column(Float)
    exposure_bright: Mapped[float | None] = mapped_column(Float)
    exposure_verdict: Mapped[str | None] = mapped_column(String(8))

    # Perceptual hashes (imaging.hashing), stored signed: see to_signed64 / to_unsigned64.
    phash: Mapped[int | None] = mapped_column(BigInteger, index=True)
    dhash: Mapped[int | None] = mapped_column(BigInteger)

    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    files: Mapped[list[File]] = relationship(back_populates="photo", passive_deletes=True)
    embeddings: Mapped[list[Embedding]] = relationship(back_populates="photo", passive_deletes=True)
    predictions: Mapped[list[Prediction]] = relationship(
        back_populates="photo", passive_deletes=True
    )
    corrections: Mapped[list[Correction]] = relationship(
        back_populates="photo", passive_deletes=True
    )


class File(Base):
    """A path where a photo's bytes were seen; ``status`` says whether it is still there."""

    __tablename__ = "files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text, unique=True)  # absolute
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8), default=FILE_PRESENT, index=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="files")


class Embedding(Base):
    """A photo's backbone embedding for one backbone version (float32 little-endian bytes)."""

    __tablename__ = "embeddings"
    __table_args__ = (UniqueConstraint("photo_id", "backbone_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    backbone_version: Mapped[str] = mapped_column(String(32), index=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="embeddings")


class Prediction(Base):
    """A head's output for a photo, for one (head, head version, backbone version)."""

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("photo_id", "head", "head_version", "backbone_version"),
        Index("ix_predictions_head_label", "head", "head_version", "label"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    head: Mapped[str] = mapped_column(String(64))
    head_version: Mapped[str] = mapped_column(String(32))
    backbone_version: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(128))
    confidence: Mapped[float] = mapped_column(Float)
    uncertain: Mapped[bool] = mapped_column(Boolean)
    probabilities: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="predictions")


class Correction(Base):
    """A label the user gave a photo. Kept as history; the latest (highest id) wins."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(128))
    head: Mapped[str | None] = mapped_column(String(64))  # which head's label set, if known
    source: Mapped[str] = mapped_column(String(16), default="user")  # "user", "web", "cli"
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="corrections")


class IndexErrorRecord(Base):
    """The latest failure to index one path (listed by ``smartalbum errors``).

    ``size``/``mtime_ns`` let a re-index skip an unchanged bad file without reading it
    again; the row is deleted once the path indexes fine or disappears.
    """

    __tablename__ = "index_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class IndexRun(Base):
    """One ``smartalbum index`` run: what it was asked, with which model, what it did.

    A run killed mid-way keeps ``finished_at`` NULL and ``status`` "running".
    """

    __tablename__ = "index_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    roots: Mapped[list[str]] = mapped_column(JSON)
    backbone_version: Mapped[str | None] = mapped_column(String(32))
    head: Mapped[str | None] = mapped_column(String(64))
    head_version: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


# --------------------------------------------------------------------------- jobs
# Background work (smartalbum.jobs). The catalog, not the broker, is the truth about a
# job: a broker may lose a message when a worker is killed, the rows below never do.

JOB_QUEUED = "queued"
JOB_RUNNING = "running"
JOB_DONE = "done"
JOB_FAILED = "failed"
JOB_CANCELLED = "cancelled"
JOB_FINISHED = (JOB_DONE, JOB_FAILED, JOB_CANCELLED)


class Job(Base):
    """One piece of background work (kind "index", ...) and its progress.

    ``done``/``total`` count items (photos); ``errors`` the items that failed. Rate and ETA
    are derived from ``done`` and ``started_at`` when read (smartalbum.jobs.store).
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4 hex
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=JOB_QUEUED, index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total: Mapped[int | None] = mapped_column(Integer)  # None until planned
    done: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)  # planning step alive
    # When an item last got done (or a final step said it is alive): no change for
    # jobs.stall_after_s while running means "stalled" (store.job_to_dict), never an ETA.
    progress_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class JobChunk(Base):
    """A slice of a job's items that one worker takes at a time (claimed, heartbeated).

    A chunk whose worker stops heartbeating (killed) is sent again; ``attempts`` counts
    the claims, so a chunk that keeps killing its worker is given up item by item.
    """

    __tablename__ = "job_chunks"
    __table_args__ = (UniqueConstraint("job_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=JOB_QUEUED)
    done: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # What a chunk of a chunked kind reports (e.g. one category's retrain report); the
    # kind's final step gathers them into the job's result.
    result: Mapped[Any | None] = mapped_column(JSON)


class JobWorker(Base):
    """A live worker process, heartbeated by its sweeper thread (jobs.tasks).

    Its reason to exist: a job is cut into chunks by how many workers take them (a small
    job still uses every worker), and the embedded broker has no remote control to ask.
    Rows not heartbeated for a few intervals are workers that are gone.
    """

    __tablename__ = "job_workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    concurrency: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class JobItemError(Base):
    """An item of a job that failed (one row per job and item, the latest reason)."""

    __tablename__ = "job_item_errors"
    __table_args__ = (UniqueConstraint("job_id", "item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(Text)
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# Feature tables live in their own modules; importing them registers them on Base.metadata.
from smartalbum.library import (  # noqa: E402, F401
    schema_faces,
    schema_settings,
    schema_state,
    schema_tags,
    schema_teach,
)
