"""Embeddings of photos and of augmented views of them, with the serving ONNX backbone.

The shipped heads are fitted over a frozen backbone, so the backbone only has to run once
per view: this module decodes each photo once, makes its views (the plain serving view plus
``views`` random augmentations from :class:`~smartalbum.training.augment.TrainTransform`),
runs them in batches through :class:`~smartalbum.model.engine.Engine` (the int8 backbone
users get, so the heads learn exactly the embeddings they will see) and caches the result
in one ``.npz`` per (photos, recipe, backbone), so a head experiment never pays for the
network twice.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from smartalbum.atomic import atomic_open
from smartalbum.imaging.decode import load_photo
from smartalbum.imaging.preprocess import preprocess
from smartalbum.model.engine import Engine
from smartalbum.training.augment import AugmentConfig, TrainTransform, overlay_text

#: Decode size: what ``smartalbum classify`` decodes at (twice the 224 px input).
DECODE_SIDE = 448


@dataclass(frozen=True)
class LabelledPhoto:
    """A training or validation photo: where it is, its class and where it came from."""

    path: Path
    label: str
    source: str
    name: str  # a path relative to its data folder: what reports and caches name


@dataclass
class ViewSet:
    """Embeddings (float16, N x D) of views, each with its photo's label, source and name.

    ``view`` is 0 for the plain serving view, 1.. for augmented ones.
    """

    emb: np.ndarray
    label: np.ndarray
    source: np.ndarray
    name: np.ndarray
    view: np.ndarray

    def __len__(self) -> int:
        return len(self.label)

    def select(self, mask: np.ndarray) -> ViewSet:
        return ViewSet(*(getattr(self, k)[mask] for k in self._fields()))

    @staticmethod
    def _fields() -> tuple[str, ...]:
        return ("emb", "label", "source", "name", "view")

    @classmethod
    def concat(cls, parts: Iterable[ViewSet]) -> ViewSet:
        parts = list(parts)
        return cls(*(np.concatenate([getattr(p, k) for p in parts]) for k in cls._fields()))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path) as f:
            np.savez(f, **{k: getattr(self, k) for k in self._fields()})

    @classmethod
    def load(cls, path: Path) -> ViewSet:
        with np.load(path) as z:
            return cls(*(z[k] for k in cls._fields()))


def recipe_key(engine: Engine, what: dict) -> str:
    """A short hash of what determines a cache's content (backbone, preprocessing, recipe)."""
    key = {
        "backbone": engine.bundle.backbone.get("weights"),
        # the file itself: a backbone rewritten in place (its weights stored as uint8) must
        # not be served the embeddings of the old one
        "backbone_version": engine.bundle.backbone_version,
        "precision": engine.bundle.backbone.get("precision"),
        "preprocess": engine.bundle.preprocess.model_dump(),
        **what,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


class _Batcher:
    """Collects preprocessed views and runs the backbone on full batches."""

    def __init__(self, engine: Engine, batch_size: int = 64) -> None:
        self.engine, self.batch_size = engine, batch_size
        self.pending: list[np.ndarray] = []
        self.out: list[np.ndarray] = []

    def add(self, x: np.ndarray) -> None:
        self.pending.append(x)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            emb = self.engine.run_batch(np.stack(self.pending))["embedding"]
            self.out.append(emb.astype(np.float16))
            self.pending = []

    def result(self) -> np.ndarray:
        self.flush()
        dim = self.engine.embedding_dim
        return np.concatenate(self.out) if self.out else np.zeros((0, dim), np.float16)


def cached(cache: Path | None, engine: Engine, what: dict, make: Callable[[], ViewSet]) -> ViewSet:
    """``make()``'s result, stored under ``cache`` by :func:`recipe_key`."""
    if cache is None:
        return make()
    path = Path(cache) / f"views-{recipe_key(engine, what)}.npz"
    if path.is_file():
        return ViewSet.load(path)
    result = make()
    result.save(path)
    return result


def embed_photos(
    engine: Engine,
    photos: Sequence[LabelledPhoto],
    *,
    views: int = 0,
    augment: AugmentConfig | None = None,
    seed: int = 0,
    text_views: int = 0,
    plain: bool = True,
    cache: Path | None = None,
    progress: bool = False,
) -> ViewSet:
    """The plain view of every photo (unless ``plain`` is False), plus ``views`` augmented
    views of each, plus ``text_views`` augmented views with text drawn on them
    (:func:`overlay_text`)."""
    what = {
        "photos": [p.name for p in photos],
        "views": views,
        "augment": asdict(augment or AugmentConfig()),
        "seed": seed,
        "decode": DECODE_SIDE,
    }
    if text_views or not plain:  # keeps the cache key of the other recipes as it was
        what.update(text_views=text_views, plain=plain)

    def make() -> ViewSet:
        spec = engine.bundle.preprocess
        tt = TrainTransform(spec, augment or AugmentConfig(), seed=seed)
        rng = np.random.default_rng(seed)
        batcher = _Batcher(engine)
        meta: list[tuple[str, str, str, int]] = []
        for p in tqdm(
            photos, desc="embedding", unit="photo", disable=not progress, file=sys.stderr
        ):
            image = load_photo(p.path, max_side=DECODE_SIDE, digest=False).image
            if plain:
                batcher.add(preprocess(image, spec))
                meta.append((p.label, p.source, p.name, 0))
            for v in range(1, views + 1):
                batcher.add(tt(image))
                meta.append((p.label, p.source, p.name, v))
            for v in range(views + 1, views + text_views + 1):
                batcher.add(tt(overlay_text(image, rng)))
                meta.append((p.label, p.source, p.name, v))
        return _viewset(batcher.result(), meta)

    return cached(cache, engine, what, make)


def _viewset(emb: np.ndarray, meta: Sequence[tuple[str, str, str, int]]) -> ViewSet:
    cols = list(zip(*meta, strict=True)) if meta else [(), (), (), ()]
    return ViewSet(
        emb,
        np.asarray(cols[0], dtype=str),
        np.asarray(cols[1], dtype=str),
        np.asarray(cols[2], dtype=str),
        np.asarray(cols[3], dtype=np.int16),
    )


def embed_generated(
    engine: Engine,
    images: Iterable[tuple[np.ndarray, str, str, str]],
    *,
    what: dict,
    cache: Path | None = None,
) -> ViewSet:
    """Embeddings of generated ``(image, label, source, name)`` pictures (e.g. pasted
    people), preprocessed as served; ``what`` describes the generator for the cache key."""

    def make() -> ViewSet:
        spec = engine.bundle.preprocess
        batcher = _Batcher(engine)
        meta = []
        for image, label, source, name in images:
            batcher.add(preprocess(image, spec))
            meta.append((label, source, name, 1))
        return _viewset(batcher.result(), meta)

    return cached(cache, engine, what, make)
