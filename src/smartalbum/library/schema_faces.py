"""Faces and people: catalog tables (registered on :data:`smartalbum.library.schema.Base`).

Kept in their own module so each feature owns its tables; schema imports this module at
its end, so Base.metadata always holds every table (the migration test compares them).

* :class:`FaceScan` — one row per photo looked at by a detector version, even when it holds
  no face: it is what makes a scan idempotent (a photo is scanned once; a job run twice, or
  killed and resent, skips what is already committed).
* :class:`Face` — a detected face: box and 5 landmarks *relative* to the upright photo
  (0..1, so they hold at any display size), detection score, 128-d dlib descriptor
  (float32 bytes), its person and who put it there (``assigned_by`` "auto" or "user").
* :class:`Person` — a group of faces; optional name and birth date.
* :class:`FaceRejection` — "this face is not that person", remembered for ever (a rejected
  face never returns to that person, through any re-clustering).
* ``Face.dismissed_at`` — "not a face" (a lamp, a window): the detection is hidden
  everywhere and never clustered, kept as a row so a re-cluster cannot bring it back.
* :class:`PersonMerge` — one merge as it was done (who was merged, every face's earlier
  person), so the people page can undo it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from smartalbum.library.schema import Base, utcnow

ASSIGNED_AUTO = "auto"
ASSIGNED_USER = "user"
#: Stored by a chunk of a spread scan, to be assigned by the job's one final step (chunks on
#: several workers cannot assign consistently: each would miss the others' new faces).
ASSIGNED_PENDING = "pending"


class Person(Base):
    """A person: faces point here. Unnamed people are made and removed by clustering;
    a named one stays (even with no face left) until the user merges it away."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), index=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class FaceScan(Base):
    """A photo that a face detector version has looked at (``faces``: how many it found)."""

    __tablename__ = "face_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), unique=True)
    detector: Mapped[str] = mapped_column(String(32))
    faces: Mapped[int] = mapped_column(Integer)
    scanned_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Face(Base):
    """One detected face of a photo (coordinates relative to the upright photo, 0..1)."""

    __tablename__ = "faces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    w: Mapped[float] = mapped_column(Float)
    h: Mapped[float] = mapped_column(Float)
    landmarks: Mapped[list[Any]] = mapped_column(JSON)  # 5 x [x, y], relative
    score: Mapped[float] = mapped_column(Float)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # 128 float32, little-endian
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    assigned_by: Mapped[str | None] = mapped_column(String(8))  # "auto", "user", None
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Set when the user said "not a face": hidden everywhere, never clustered.
    dismissed_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)


class FaceRejection(Base):
    """The user said: ``face`` is not ``person`` (kept through every re-clustering)."""

    __tablename__ = "face_rejections"
    __table_args__ = (UniqueConstraint("face_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PersonMerge(Base):
    """A merge of people, recorded so it can be undone.

    ``record`` holds what the merge changed: the kept person's name and birth date before,
    each merged person (id, name, birth date), each face's earlier (person, assigned_by) and
    the rejections the merge copied onto the kept person. ``undone_at`` is set by the undo.
    """

    __tablename__ = "person_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    keep_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)
