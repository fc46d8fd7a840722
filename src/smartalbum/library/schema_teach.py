"""Taught categories: catalog tables (registered on :data:`smartalbum.library.schema.Base`).

Kept in their own module so each feature owns its tables; schema imports this module at
its end, so Base.metadata always holds every table (the migration test compares them).

A category is a user's name plus labelled examples; its classifier is a small head over
stored embeddings (``smartalbum.categories``). Every fitted head is kept as a *version*
(JSON of :class:`smartalbum.model.heads.Head` with its metrics), exactly one of them
active, so a retrain can be refused or undone. The re-sort writes the photos the active
head puts in the category into ``category_members`` (members only: a 50,000-photo catalog
costs a few hundred rows per category, not 50,000).
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
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from smartalbum.library.schema import Base, utcnow

EXAMPLE_SOURCES = ("example", "correction", "import")


class Category(Base):
    """A user's category ("sunsets", "my car"), identified by its unique name."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class CategoryExample(Base):
    """A labelled photo of a category: positive (in it) or negative (a counter-example).

    One row per (category, photo): a later label replaces an earlier one. ``source`` says
    where the label came from ("example", "correction", "import").
    """

    __tablename__ = "category_examples"
    __table_args__ = (UniqueConstraint("category_id", "photo_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), index=True
    )
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    positive: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(16), default="example")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CategoryHead(Base):
    """One fitted version of a category's head; ``active`` marks the one in use."""

    __tablename__ = "category_heads"
    __table_args__ = (UniqueConstraint("category_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per category
    backbone_version: Mapped[str] = mapped_column(String(32))
    head: Mapped[dict[str, Any]] = mapped_column(JSON)  # Head.to_dict()
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(String(16))  # create, retrain, pseudo, import, restore
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CategoryMember(Base):
    """A photo the active head (or a positive example) puts in a category, with its score."""

    __tablename__ = "category_members"
    __table_args__ = (UniqueConstraint("category_id", "photo_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), index=True
    )
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    head_version: Mapped[int] = mapped_column(Integer)
