"""Categories in the catalog: create, edit examples, versions, export/import, delete.

Pure catalog bookkeeping (no fitting here; see teach.py). Every function takes an open
session and flushes; the caller commits, so a multi-step change is one transaction.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from smartalbum.categories.assess import assess
from smartalbum.categories.errors import (
    CategoryExists,
    CategoryNotFound,
    InvalidCategory,
    VersionNotFound,
)
from smartalbum.library.schema import Embedding, Photo, utcnow
from smartalbum.library.schema_teach import (
    Category,
    CategoryExample,
    CategoryHead,
    CategoryMember,
)
from smartalbum.model.heads import Head

EXPORT_FORMAT = "smartalbum-category/1"
_BAD_NAME = re.compile(r"[/\\\x00-\x1f]")


def validate_name(name: str) -> str:
    """A category name: 1-128 characters, no slashes or control characters (it becomes a
    folder name when a user organises by category and appears in URLs)."""
    clean = (name or "").strip()
    if not clean or len(clean) > 128 or _BAD_NAME.search(clean) or clean in (".", ".."):
        raise InvalidCategory(
            f"invalid category name {name!r}: 1-128 characters, no slashes or control characters"
        )
    return clean


def create_category(session: Session, name: str, description: str = "") -> Category:
    name = validate_name(name)
    if session.scalar(select(Category.id).where(Category.name == name)) is not None:
        raise CategoryExists(f"category {name!r} already exists")
    category = Category(name=name, description=description or "")
    session.add(category)
    session.flush()
    return category


def get_category(session: Session, name: str) -> Category:
    category = session.scalar(select(Category).where(Category.name == (name or "").strip()))
    if category is None:
        raise CategoryNotFound(f"no category named {name!r}")
    return category


def all_categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.name)))


def rename_category(session: Session, category: Category, new_name: str) -> Category:
    new_name = validate_name(new_name)
    if new_name != category.name:
        if session.scalar(select(Category.id).where(Category.name == new_name)) is not None:
            raise CategoryExists(f"category {new_name!r} already exists")
        category.name = new_name
        category.updated_at = utcnow()
    session.flush()
    return category


def delete_category(session: Session, name: str) -> None:
    """Delete a category with its examples, versions and members (never a photo)."""
    category = get_category(session, name)
    for model in (CategoryMember, CategoryHead, CategoryExample):
        session.execute(delete(model).where(model.category_id == category.id))
    session.delete(category)
    session.flush()


# --------------------------------------------------------------------------- examples


def set_examples(
    session: Session,
    category: Category,
    photo_ids: list[int],
    *,
    positive: bool,
    source: str = "example",
) -> int:
    """Label photos as examples (positive) or counter-examples; a new label replaces an
    old one of the same photo. Returns how many photos were labelled."""
    ids = sorted(set(int(i) for i in photo_ids))
    if not ids:
        return 0
    session.execute(
        delete(CategoryExample).where(
            CategoryExample.category_id == category.id, CategoryExample.photo_id.in_(ids)
        )
    )
    now = utcnow()
    session.add_all(
        CategoryExample(
            category_id=category.id, photo_id=i, positive=positive, source=source, created_at=now
        )
        for i in ids
    )
    category.updated_at = now
    session.flush()
    return len(ids)


def remove_examples(session: Session, category: Category, photo_ids: list[int]) -> int:
    result = session.execute(
        delete(CategoryExample).where(
            CategoryExample.category_id == category.id,
            CategoryExample.photo_id.in_([int(i) for i in photo_ids]),
        )
    )
    session.flush()
    return int(result.rowcount or 0)


def examples(session: Session, category: Category) -> dict[int, bool]:
    """photo id -> positive? for every labelled photo of the category."""
    rows = session.execute(
        select(CategoryExample.photo_id, CategoryExample.positive).where(
            CategoryExample.category_id == category.id
        )
    )
    return {int(pid): bool(pos) for pid, pos in rows}


def example_rows(session: Session, category: Category) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            CategoryExample.photo_id, Photo.sha256, CategoryExample.positive, CategoryExample.source
        )
        .join(Photo, Photo.id == CategoryExample.photo_id)
        .where(CategoryExample.category_id == category.id)
        .order_by(CategoryExample.id)
    )
    return [
        {"photo_id": pid, "sha256": sha, "positive": bool(pos), "source": src}
        for pid, sha, pos, src in rows
    ]


# --------------------------------------------------------------------------- versions


def add_version(
    session: Session,
    category: Category,
    head: Head,
    *,
    backbone_version: str,
    metrics: dict[str, Any],
    reason: str,
    activate: bool = True,
) -> CategoryHead:
    """Store a fitted head as the category's next version (active unless told not to)."""
    last = session.scalar(
        select(func.max(CategoryHead.version)).where(CategoryHead.category_id == category.id)
    )
    if activate:
        session.execute(
            update(CategoryHead).where(CategoryHead.category_id == category.id).values(active=False)
        )
    row = CategoryHead(
        category_id=category.id,
        version=int(last or 0) + 1,
        backbone_version=backbone_version,
        head=head.to_dict(),
        metrics=metrics,
        reason=reason,
        active=activate,
    )
    session.add(row)
    category.updated_at = utcnow()
    session.flush()
    return row


def active_version(session: Session, category: Category) -> CategoryHead | None:
    return session.scalar(
        select(CategoryHead).where(
            CategoryHead.category_id == category.id, CategoryHead.active.is_(True)
        )
    )


def versions(session: Session, category: Category) -> list[CategoryHead]:
    return list(
        session.scalars(
            select(CategoryHead)
            .where(CategoryHead.category_id == category.id)
            .order_by(CategoryHead.version)
        )
    )


def restore_version(session: Session, category: Category, version: int) -> CategoryHead:
    """Make an older (or newer) version the active one; the others are kept."""
    row = session.scalar(
        select(CategoryHead).where(
            CategoryHead.category_id == category.id, CategoryHead.version == int(version)
        )
    )
    if row is None:
        raise VersionNotFound(f"category {category.name!r} has no version {version}")
    session.execute(
        update(CategoryHead).where(CategoryHead.category_id == category.id).values(active=False)
    )
    row.active = True
    category.updated_at = utcnow()
    session.flush()
    return row


def head_of(row: CategoryHead) -> Head:
    return Head.from_dict(row.head)


def version_dict(row: CategoryHead) -> dict[str, Any]:
    return {
        "version": row.version,
        "active": bool(row.active),
        "reason": row.reason,
        "backbone_version": row.backbone_version,
        "threshold": round(float(row.head.get("threshold", 0.5)), 4),
        "metrics": row.metrics,
        "created_at": row.created_at.isoformat() + "Z" if row.created_at else None,
    }


# --------------------------------------------------------------------------- summaries


def member_count(session: Session, category: Category) -> int:
    return int(
        session.scalar(
            select(func.count(CategoryMember.id)).where(CategoryMember.category_id == category.id)
        )
        or 0
    )


def library_size(session: Session, backbone_version: str) -> int:
    """Photos with an embedding of ``backbone_version``: what a category sorts."""
    return int(
        session.scalar(
            select(func.count(func.distinct(Embedding.photo_id))).where(
                Embedding.backbone_version == backbone_version
            )
        )
        or 0
    )


def summary(session: Session, category: Category) -> dict[str, Any]:
    """What ``category list`` and the API show for a category.

    Besides the counts: ``share`` (of the library it claims), ``size_text`` ("230 photos,
    12 % of your library"), ``confidence`` ("sure", "fairly sure", "unsure"; None before
    a fit) and ``warning`` (plain words saying what to do, or None); see assess.py.
    """
    labels = examples(session, category)
    active = active_version(session, category)
    members = member_count(session, category)
    n_examples = sum(labels.values())
    judged = assess(
        dict(active.metrics or {}) if active else None,
        members=members,
        library=library_size(session, active.backbone_version) if active else 0,
        examples=n_examples,
    )
    return {
        "name": category.name,
        "description": category.description,
        "examples": n_examples,
        "counter_examples": sum(not v for v in labels.values()),
        "members": members,
        "version": active.version if active else None,
        "threshold": round(float(active.head.get("threshold", 0.5)), 4) if active else None,
        "created_at": category.created_at.isoformat() + "Z" if category.created_at else None,
        "updated_at": category.updated_at.isoformat() + "Z" if category.updated_at else None,
        **judged.to_dict(),
    }


# --------------------------------------------------------------------------- export


def export_category(session: Session, name: str) -> dict[str, Any]:
    """A small self-contained document: the active head and the examples by content hash
    (so it imports into another catalog holding the same photos, wherever they live)."""
    category = get_category(session, name)
    active = active_version(session, category)
    return {
        "format": EXPORT_FORMAT,
        "name": category.name,
        "description": category.description,
        "version": active.version if active else None,
        "backbone_version": active.backbone_version if active else None,
        "head": active.head if active else None,
        "metrics": active.metrics if active else {},
        "examples": [
            {"sha256": r["sha256"], "positive": r["positive"]}
            for r in example_rows(session, category)
        ],
    }


def parse_export(data: Any) -> dict[str, Any]:
    """Validate an export document's shape (raises :class:`InvalidCategory`)."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise InvalidCategory(f"not a Smart Album category file (format must be {EXPORT_FORMAT})")
    if not isinstance(data.get("name"), str) or not isinstance(data.get("description", ""), str):
        raise InvalidCategory("the category file needs a 'name' (and 'description') string")
    validate_name(data["name"])
    if not isinstance(data.get("examples") or [], list):
        raise InvalidCategory("the category file's 'examples' must be a list")
    if data.get("head") is not None and not isinstance(data.get("backbone_version"), str):
        raise InvalidCategory("a category file with a head needs its 'backbone_version'")
    if data.get("head") is not None:
        try:
            Head.from_dict(data["head"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidCategory(f"the category file's head is invalid: {exc}") from exc
    for ex in data.get("examples") or []:
        if not isinstance(ex, dict) or not re.fullmatch(r"[0-9a-f]{64}", str(ex.get("sha256"))):
            raise InvalidCategory("every example needs a sha256 (64 hex digits)")
    return data


def photo_ids_for_sha256(session: Session, hashes: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        rows = session.execute(select(Photo.sha256, Photo.id).where(Photo.sha256.in_(chunk)))
        out.update({sha: int(pid) for sha, pid in rows})
    return out
