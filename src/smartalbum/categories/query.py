"""Read-side helpers shared by the CLI and the API: members with paths, review items."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartalbum.categories import store
from smartalbum.categories.active import review_queue
from smartalbum.library.schema import FILE_PRESENT, File, Photo
from smartalbum.library.schema_teach import CategoryMember


def paths_of(session: Session, photo_ids: list[int]) -> dict[int, str]:
    """One present path per photo (the first seen), for display."""
    out: dict[int, str] = {}
    for start in range(0, len(photo_ids), 500):
        chunk = photo_ids[start : start + 500]
        rows = session.execute(
            select(File.photo_id, File.path)
            .where(File.photo_id.in_(chunk), File.status == FILE_PRESENT)
            .order_by(File.id)
        )
        for pid, path in rows:
            out.setdefault(int(pid), path)
    return out


def members(
    session: Session, name: str, *, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """The category's photos, best score first: sha256, path, score."""
    category = store.get_category(session, name)
    q = (
        select(CategoryMember.photo_id, Photo.sha256, CategoryMember.score)
        .join(Photo, Photo.id == CategoryMember.photo_id)
        .where(CategoryMember.category_id == category.id)
        .order_by(CategoryMember.score.desc(), CategoryMember.photo_id)
        .offset(offset)
    )
    if limit is not None:
        q = q.limit(limit)
    rows = session.execute(q).all()
    paths = paths_of(session, [r[0] for r in rows])
    return [
        {"photo_id": pid, "sha256": sha, "path": paths.get(pid), "score": round(float(sc), 4)}
        for pid, sha, sc in rows
    ]


def review_items(teacher: Any, session: Session, name: str, *, limit: int = 50) -> list[dict]:
    """The active-learning queue with sha256 and path added."""
    category = store.get_category(session, name)
    items = review_queue(session, category, teacher.matrix(session), limit=limit)
    ids = [i["photo_id"] for i in items]
    paths = paths_of(session, ids)
    shas = dict(session.execute(select(Photo.id, Photo.sha256).where(Photo.id.in_(ids))).all())
    for item in items:
        item["sha256"] = shas.get(item["photo_id"])
        item["path"] = paths.get(item["photo_id"])
    return items
