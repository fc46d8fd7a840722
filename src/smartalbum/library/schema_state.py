"""State that must be the same on every node: catalog tables (on ``schema.Base``).

Before these tables, three kinds of state lived in a node's data dir, so a web node and
workers on separate machines disagreed (issue 14):

- ``head_versions``: the user's versions of a bundle's own heads (``album6``, ``seed3``)
  and which one is active; read by every engine once a second (model/user_heads.py's
  ``HeadStore``, implemented over this table by library/head_store.py);
- ``stored_files``: the bytes of files the app itself keeps (uploaded category examples),
  by content hash, so any node can thumbnail, explain or index them;
- ``job_uploads``: photos dropped on the page as a job, waiting for a worker; deleted when
  the job ends or is cancelled (and swept when a job is gone).

The data dir keeps only caches rebuilt from these and the photos (docs/deploy.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
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


class HeadVersionRow(Base):
    """One stored version of a bundle head; at most one per (bundle_key, head) is active
    (none active: the bundle's own head, version 0, serves)."""

    __tablename__ = "head_versions"
    __table_args__ = (UniqueConstraint("bundle_key", "head", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_key: Mapped[str] = mapped_column(String(160), index=True)  # user_heads.bundle_key
    head: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    head_version: Mapped[str] = mapped_column(String(64))  # the head's content hash
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"head": ..., "report": ...}
    created_at: Mapped[float] = mapped_column(Float, default=0.0)  # epoch seconds, as on disk
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class StoredFile(Base):
    """A file the app keeps (an uploaded category example), by its SHA-256."""

    __tablename__ = "stored_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="example")
    name: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class JobUpload(Base):
    """One photo uploaded with a classify job, in upload order (``position``)."""

    __tablename__ = "job_uploads"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(LargeBinary)
