"""Per-library settings kept in the catalog (registered on :data:`smartalbum.library.schema.Base`).

Why the catalog and not the settings file: these belong to one library (its home for trips,
say), so they travel with the catalog, are shared by every process that opens it (web,
CLI, workers) and need no write access to the configuration.

* :class:`LibrarySetting` — one JSON value per key (``"trips.home"``: ``{"latitude": ..,
  "longitude": .., "name": ..}``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from smartalbum.library.schema import Base, utcnow


class LibrarySetting(Base):
    """One setting of this library: a key and its JSON value."""

    __tablename__ = "library_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


def get_setting(session: Session, key: str) -> Any:
    """The value stored under ``key``, or None."""
    row = session.get(LibrarySetting, key)
    return None if row is None else row.value


def set_setting(session: Session, key: str, value: Any) -> None:
    """Store ``value`` under ``key`` (None removes it)."""
    row = session.get(LibrarySetting, key)
    if value is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(LibrarySetting(key=key, value=value, updated_at=utcnow()))
    else:
        row.value = value
        row.updated_at = utcnow()
