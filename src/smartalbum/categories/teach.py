"""Teaching a category end to end: labels -> head version -> re-sorted catalog.

:class:`Teacher` is what the CLI, the API and the job tasks call. It needs only the
catalog and the backbone version of the embeddings to use (never the ONNX session): a
category is fitted and applied from stored embeddings alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.categories import store
from smartalbum.categories.active import review_queue
from smartalbum.categories.assess import QUESTIONS, SURE
from smartalbum.categories.data import training_data, user_labels
from smartalbum.categories.errors import InvalidCategory, NotEnoughExamples, PhotoNotInCatalog
from smartalbum.categories.fit import fit_category_head
from smartalbum.categories.matrix import EmbeddingMatrix, embedding_matrix
from smartalbum.categories.resort import ResortResult, resort
from smartalbum.library.db import session_scope
from smartalbum.library.schema import Embedding
from smartalbum.library.schema_teach import Category
from smartalbum.model.heads import Head

Progress = Callable[[int, int, str], None]


def catalog_backbone_version(session: Session) -> str | None:
    """The backbone version most embeddings in the catalog have (None when empty)."""
    row = session.execute(
        select(Embedding.backbone_version, func.count(Embedding.id))
        .group_by(Embedding.backbone_version)
        .order_by(func.count(Embedding.id).desc())
        .limit(1)
    ).first()
    return row[0] if row else None


@dataclass
class Teacher:
    """Category operations over one catalog and one backbone version."""

    factory: sessionmaker[Session]
    backbone_version: str
    cache_root: Path | None = None

    def matrix(self, session: Session) -> EmbeddingMatrix:
        return embedding_matrix(session, self.backbone_version, cache_root=self.cache_root)

    # ------------------------------------------------------------------ fitting

    def fit(self, session: Session, category: Category, *, seed: int = 0) -> Head:
        """Fit a head on all the category's labels plus a background sample."""
        matrix = self.matrix(session)
        labels = user_labels(session, category, matrix)
        data = training_data(matrix, labels, seed=seed)
        return fit_category_head(category.name, data, seed=seed, description=category.description)

    def fit_version(
        self, session: Session, category: Category, *, reason: str, metrics: dict | None = None
    ) -> int:
        head = self.fit(session, category)
        return self.save_version(session, category, head, reason=reason, **(metrics or {})).version

    def save_version(
        self, session: Session, category: Category, head: Head, *, reason: str, **metrics: Any
    ) -> Any:
        """Store ``head`` as the category's next, active version: its own metrics plus
        ``metrics`` (what the fit that made it measured), for this teacher's backbone."""
        return store.add_version(
            session,
            category,
            head,
            backbone_version=self.backbone_version,
            metrics={**head.metrics, **metrics},
            reason=reason,
        )

    def resort(self, session: Session, category: Category) -> ResortResult:
        return resort(session, category, self.matrix(session))

    def questions(self, session: Session, category: Category, limit: int = QUESTIONS) -> list[int]:
        """Photo ids whose answer (in or not?) would settle the category most: the top of
        its "label these next" queue."""
        return [
            row["photo_id"]
            for row in review_queue(session, category, self.matrix(session), limit=limit)
        ]

    def outcome(self, session: Session, category: Category, **extra: Any) -> dict[str, Any]:
        """The summary every operation returns (store.summary: size, confidence, warning)
        plus ``extra``, plus ``questions``: the photos to ask about when it is not sure
        (empty when it is)."""
        out = {**store.summary(session, category), **extra}
        unsure = out.get("confidence") not in (None, SURE)
        out["questions"] = self.questions(session, category) if unsure else []
        return out

    # ------------------------------------------------------------------ high level

    def create(
        self,
        name: str,
        positives: list[int],
        negatives: list[int] | None = None,
        *,
        description: str = "",
    ) -> dict[str, Any]:
        """Create a category from example photo ids, fit it, re-sort the catalog."""
        with session_scope(self.factory) as s:
            category = store.create_category(s, name, description)
            self._check_embedded(s, positives + list(negatives or []))
            store.set_examples(s, category, positives, positive=True)
            store.set_examples(s, category, list(negatives or []), positive=False)
            version = self.fit_version(s, category, reason="create")
            result = self.resort(s, category)
            return self.outcome(s, category, version=version, resort=result.to_dict())

    def add_examples(
        self, name: str, positives: list[int], negatives: list[int], *, source: str = "example"
    ) -> dict[str, Any]:
        """Label more photos, refit (a new version), re-sort."""
        with session_scope(self.factory) as s:
            category = store.get_category(s, name)
            self._check_embedded(s, positives + negatives)
            store.set_examples(s, category, positives, positive=True, source=source)
            store.set_examples(s, category, negatives, positive=False, source=source)
            self.fit_version(s, category, reason="edit")
            result = self.resort(s, category)
            return self.outcome(s, category, resort=result.to_dict())

    def correct(self, name: str, photo_id: int, positive: bool) -> dict[str, Any]:
        """Record a user's correction (in / not in the category) and apply it at once to
        the members; the head itself learns from it at the next ``retrain``."""
        with session_scope(self.factory) as s:
            category = store.get_category(s, name)
            self._check_embedded(s, [photo_id])
            store.set_examples(s, category, [photo_id], positive=positive, source="correction")
            result = self.resort(s, category)
            return self.outcome(s, category, resort=result.to_dict())

    def restore(self, name: str, version: int) -> dict[str, Any]:
        """Make an earlier (or later) head version active again and re-sort."""
        with session_scope(self.factory) as s:
            category = store.get_category(s, name)
            store.restore_version(s, category, version)
            result = self.resort(s, category)
            return self.outcome(s, category, resort=result.to_dict())

    def resort_all(self, progress: Progress | None = None) -> list[dict[str, Any]]:
        with session_scope(self.factory) as s:
            cats = store.all_categories(s)
            out = []
            for i, category in enumerate(cats):
                out.append(self.resort(s, category).to_dict())
                if progress:
                    progress(i + 1, len(cats), category.name)
            return out

    def import_category(self, data: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        """Import an exported category: its head when it was fitted on the same backbone,
        else re-fitted from its examples that this catalog holds."""
        data = store.parse_export(data)
        with session_scope(self.factory) as s:
            category = store.create_category(s, name or data["name"], data.get("description", ""))
            hashes = [ex["sha256"] for ex in data.get("examples") or []]
            ids = store.photo_ids_for_sha256(s, hashes)
            for positive in (True, False):
                chosen = [
                    ids[ex["sha256"]]
                    for ex in data.get("examples") or []
                    if bool(ex.get("positive")) is positive and ex["sha256"] in ids
                ]
                store.set_examples(s, category, chosen, positive=positive, source="import")
            if data.get("head") and data.get("backbone_version") == self.backbone_version:
                head = Head.from_dict(data["head"])
                head.name = category.name
                store.add_version(
                    s,
                    category,
                    head,
                    backbone_version=self.backbone_version,
                    metrics=dict(data.get("metrics") or {}),
                    reason="import",
                )
            else:
                try:
                    self.fit_version(s, category, reason="import")
                except NotEnoughExamples as exc:
                    raise InvalidCategory(
                        "the category file's head was fitted on another backbone and fewer "
                        f"than 2 of its examples are in this catalog ({exc})"
                    ) from exc
            result = self.resort(s, category)
            return self.outcome(s, category, matched_examples=len(ids), resort=result.to_dict())

    def _check_embedded(self, session: Session, photo_ids: list[int]) -> None:
        """Every example must have an embedding of this backbone (typed error otherwise)."""
        ids = sorted(set(photo_ids))
        if not ids:
            return
        have = set(
            session.scalars(
                select(Embedding.photo_id).where(
                    Embedding.photo_id.in_(ids),
                    Embedding.backbone_version == self.backbone_version,
                )
            )
        )
        missing = [i for i in ids if i not in have]
        if missing:
            raise PhotoNotInCatalog(
                f"{len(missing)} example photo(s) are not indexed with this model "
                f"(photo ids {missing[:5]}); index them first"
            )


_versions: dict[str, str] = {}


def bundle_backbone_version(bundle_path: Path | str | None) -> str:
    """The backbone version of a bundle's embeddings (cached per path; no ONNX session)."""
    from smartalbum.model.bundle import Bundle

    key = str(bundle_path or "")
    if key not in _versions:
        _versions[key] = Bundle.load(bundle_path).backbone_version
    return _versions[key]


def teacher_for(settings: Any, factory: sessionmaker[Session]) -> Teacher:
    """The Teacher for the configured bundle, caching matrices under the data dir."""
    return Teacher(
        factory,
        bundle_backbone_version(settings.model.bundle),
        cache_root=Path(settings.data_dir).expanduser() / "cache",
    )
