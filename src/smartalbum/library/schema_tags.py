"""Automatic tags and search: catalog tables (registered on :data:`smartalbum.library.schema.Base`).

Kept in their own module so each feature owns its tables; schema imports this module at
its end, so Base.metadata always holds every table (the migration test compares them).

* :class:`PhotoTag` — one keyword of one photo. ``source`` says who set it: ``auto`` (the
  tagger, from the vocabulary version in ``vocabulary_version``), ``user`` (added by the
  user) or ``removed`` (the user removed it: the row stays so re-tagging never brings the
  keyword back). User rows win: re-tagging replaces ``auto`` rows only.
* :class:`PhotoTagState` — which vocabulary and backbone version a photo was last tagged
  with, so a run tags only photos whose tags are missing or stale (a photo the tagger found
  nothing for has a state row and no tags).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from smartalbum.library.schema import Base, utcnow

TAG_AUTO = "auto"
TAG_USER = "user"
TAG_REMOVED = "removed"


class PhotoTag(Base):
    """A keyword of a photo (unique per photo and tag)."""

    __tablename__ = "photo_tags"
    __table_args__ = (UniqueConstraint("photo_id", "tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(64), index=True)  # normalised: lower case
    confidence: Mapped[float] = mapped_column(Float)  # 1.0 for the user's own tags
    source: Mapped[str] = mapped_column(String(8), default=TAG_AUTO)
    vocabulary_version: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PhotoTagState(Base):
    """The vocabulary and backbone versions a photo's automatic tags were computed with."""

    __tablename__ = "photo_tag_state"

    photo_id: Mapped[int] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True
    )
    vocabulary_version: Mapped[str] = mapped_column(String(16), index=True)
    backbone_version: Mapped[str] = mapped_column(String(32))
    tagged_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
