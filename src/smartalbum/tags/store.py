"""Tags in the catalog: compute the automatic ones, record the user's edits, read them.

The rule that makes editing safe: automatic rows are the only ones the tagger ever
replaces. A tag the user added (``user``) or removed (``removed``) is a correction that
wins over every later re-tagging, whatever the vocabulary or model version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import and_, delete, exists, select
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.errors import EXIT_USAGE, SmartAlbumError
from smartalbum.library.catalog import CHUNK, load_embeddings
from smartalbum.library.db import insert_ignore_many, session_scope
from smartalbum.library.schema import Embedding, File, Photo, utcnow
from smartalbum.library.schema_tags import (
    TAG_AUTO,
    TAG_REMOVED,
    TAG_USER,
    PhotoTag,
    PhotoTagState,
)
from smartalbum.tags.tagger import Tagger, normalize_tag


class PhotoNotFoundError(SmartAlbumError, LookupError):
    """No photo with that id (or path) in the catalog.

    The API answers 404 ``photo_not_found``; the CLI a usage error (exit 2).
    """

    code = "photo_not_found"
    title = "Not Found"
    status = 404
    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class TagRecord:
    tag: str
    confidence: float
    source: str  # "auto" or "user" (removed tags are not listed)

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "confidence": round(self.confidence, 4), "source": self.source}


# --------------------------------------------------------------------------- reading


def photo_tags(session: Session, photo_ids: Sequence[int]) -> dict[int, list[TagRecord]]:
    """photo id -> its visible tags (user tags first, then by confidence)."""
    out: dict[int, list[TagRecord]] = {pid: [] for pid in photo_ids}
    for start in range(0, len(photo_ids), CHUNK):
        chunk = list(photo_ids[start : start + CHUNK])
        rows = session.execute(
            select(PhotoTag.photo_id, PhotoTag.tag, PhotoTag.confidence, PhotoTag.source)
            .where(PhotoTag.photo_id.in_(chunk), PhotoTag.source != TAG_REMOVED)
            .order_by(PhotoTag.id)  # ties keep the tagger's ranking (rows are written in it)
        )
        for pid, tag, conf, source in rows:
            out[pid].append(TagRecord(tag, float(conf), source))
    for tags in out.values():
        tags.sort(key=lambda t: (t.source != TAG_USER, -round(t.confidence, 4)))
    return out


def removed_tags(session: Session, photo_id: int) -> list[str]:
    return sorted(
        session.scalars(
            select(PhotoTag.tag).where(
                PhotoTag.photo_id == photo_id, PhotoTag.source == TAG_REMOVED
            )
        )
    )


# --------------------------------------------------------------------------- user edits


def _require_photo(session: Session, photo_id: int) -> None:
    if session.get(Photo, photo_id) is None:
        raise PhotoNotFoundError(f"no photo with id {photo_id}")


def add_tag(session: Session, photo_id: int, tag: str) -> str:
    """The user's tag (normalised; ValueError when empty or too long); flushes, no commit."""
    tag = normalize_tag(tag)
    _require_photo(session, photo_id)
    row = session.scalar(select(PhotoTag).where(PhotoTag.photo_id == photo_id, PhotoTag.tag == tag))
    if row is None:
        session.add(PhotoTag(photo_id=photo_id, tag=tag, confidence=1.0, source=TAG_USER))
    else:
        row.source, row.confidence, row.vocabulary_version = TAG_USER, 1.0, None
    session.flush()
    return tag


def remove_tag(session: Session, photo_id: int, tag: str) -> bool:
    """Remove a tag and remember it, so re-tagging never brings it back.

    Returns False when the photo had no such tag (nothing is recorded then).
    """
    tag = normalize_tag(tag)
    _require_photo(session, photo_id)
    row = session.scalar(select(PhotoTag).where(PhotoTag.photo_id == photo_id, PhotoTag.tag == tag))
    if row is None or row.source == TAG_REMOVED:
        return False
    row.source, row.confidence = TAG_REMOVED, 0.0
    session.flush()
    return True


# --------------------------------------------------------------------------- tagging


def write_auto_tags(
    session: Session,
    tagger: Tagger,
    photo_ids: Sequence[int],
    embeddings: np.ndarray,
    backbone_version: str,
) -> int:
    """Replace the automatic tags of these photos; user rows stay. Returns tags written."""
    if not photo_ids:
        return 0
    ids = list(photo_ids)
    results = tagger.tag(embeddings)
    session.execute(delete(PhotoTag).where(PhotoTag.photo_id.in_(ids), PhotoTag.source == TAG_AUTO))
    session.execute(delete(PhotoTagState).where(PhotoTagState.photo_id.in_(ids)))
    now = utcnow()
    rows = [
        {
            "photo_id": pid,
            "tag": t.tag,
            "confidence": float(t.confidence),
            "source": TAG_AUTO,
            "vocabulary_version": tagger.version,
            "created_at": now,
        }
        for pid, tags in zip(ids, results, strict=True)
        for t in tags
    ]
    # A user row with the same tag (added or removed) wins: the automatic one is dropped.
    insert_ignore_many(session, PhotoTag, rows, ["photo_id", "tag"])
    insert_ignore_many(
        session,
        PhotoTagState,
        [
            {
                "photo_id": pid,
                "vocabulary_version": tagger.version,
                "backbone_version": backbone_version,
                "tagged_at": now,
            }
            for pid in ids
        ],
        ["photo_id"],
    )
    return len(rows)


def untagged_ids(
    session: Session,
    tagger: Tagger,
    backbone_version: str,
    *,
    paths: Iterable[str] | None = None,
    force: bool = False,
    after: int = 0,
    limit: int = CHUNK,
) -> list[int]:
    """Photos with this backbone's embedding whose tags are missing or stale (id order)."""
    q = select(Embedding.photo_id).where(
        Embedding.backbone_version == backbone_version, Embedding.photo_id > after
    )
    if not force:
        q = q.where(
            ~exists().where(
                and_(
                    PhotoTagState.photo_id == Embedding.photo_id,
                    PhotoTagState.vocabulary_version == tagger.version,
                    PhotoTagState.backbone_version == backbone_version,
                )
            )
        )
    if paths is not None:
        q = q.where(Embedding.photo_id.in_(select(File.photo_id).where(File.path.in_(list(paths)))))
    return list(session.scalars(q.order_by(Embedding.photo_id).limit(limit)))


def tag_catalog(
    factory: sessionmaker[Session],
    tagger: Tagger,
    backbone_version: str,
    *,
    paths: Sequence[str] | None = None,
    force: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Tag every photo that needs it, one transaction per chunk (interrupt-safe, idempotent).

    Returns the number of photos tagged. ``paths`` restricts the run to those files'
    photos (an indexing chunk); ``force`` re-tags photos already current.
    """
    done, after = 0, 0
    while True:
        with session_scope(factory) as s:
            ids = untagged_ids(s, tagger, backbone_version, paths=paths, force=force, after=after)
            if not ids:
                return done
            vectors = load_embeddings(s, ids, backbone_version)
            order = [i for i in ids if i in vectors]
            if order:
                write_auto_tags(
                    s, tagger, order, np.stack([vectors[i] for i in order]), backbone_version
                )
        after = ids[-1]
        done += len(order)
        if on_progress is not None:
            on_progress(len(order))


def tag_embedded(
    factory: sessionmaker[Session],
    tagger: Tagger,
    backbone_version: str,
    photo_ids: Sequence[int],
    embeddings: np.ndarray,
) -> int:
    """Tag photos whose embeddings are at hand (the indexer just computed them), without
    reading the vectors back: the same tags :func:`tag_catalog` would write, and photos
    already current are skipped as it skips them. Returns the number of photos tagged."""
    done = 0
    for start in range(0, len(photo_ids), CHUNK):
        ids = list(photo_ids[start : start + CHUNK])
        with session_scope(factory) as s:
            current = set(
                s.scalars(
                    select(PhotoTagState.photo_id).where(
                        PhotoTagState.photo_id.in_(ids),
                        PhotoTagState.vocabulary_version == tagger.version,
                        PhotoTagState.backbone_version == backbone_version,
                    )
                )
            )
            rows = [i for i, pid in enumerate(ids) if pid not in current]
            if rows:
                vectors = embeddings[start : start + CHUNK][rows]
                write_auto_tags(s, tagger, [ids[i] for i in rows], vectors, backbone_version)
        done += len(rows)
    return done


def tagger_for(bundle: Any) -> Tagger | None:
    """The tagger of a bundle, or None when it carries no ImageNet classifier."""
    fc = getattr(bundle, "concept_fc", None)
    return Tagger(fc) if fc is not None else None
