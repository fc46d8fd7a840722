"""Classify many files fast: parallel reduced-size decoding feeding batched inference.

Decoding a 12 MP JPEG is the physical limit of classification on a small CPU, so the
pipeline keeps the decoder threads busy all the time: a bounded window of decode jobs runs
ahead in a thread pool (Pillow and OpenCV release the GIL), and every ``batch_size``
decoded photos go through the backbone in one ONNX Runtime call while the next ones are
being decoded. Results come back in input order, one per file; a file that cannot be read
yields its typed error and the run goes on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from smartalbum.imaging import Photo, PhotoError, PhotoFacts, load_photo
from smartalbum.model.engine import Engine
from smartalbum.model.heads import Prediction


@dataclass
class FileResult:
    """The outcome for one input file: a prediction or a typed error."""

    path: Path
    prediction: Prediction | None = None
    error: PhotoError | None = None
    facts: PhotoFacts | None = None
    embedding: np.ndarray | None = None

    def to_dict(self) -> dict:
        """The CLI/JSON shape: path, label, confidence, uncertain, probabilities, error,
        warning (a damaged photo that still decoded: see PhotoFacts.damage)."""
        p = self.prediction
        return {
            "path": str(self.path),
            "label": p.label if p else None,
            "confidence": round(p.confidence, 6) if p else None,
            "uncertain": p.uncertain if p else None,
            "probabilities": {k: round(v, 6) for k, v in p.probabilities.items()} if p else None,
            "error": self.error.to_dict() if self.error else None,
            # the label stays, but the picture it was given is probably not the photo
            "warning": self.facts.damage if self.facts else None,
        }


def working_side(engine: Engine) -> int:
    """Decode size for classification: twice the network input is plenty for a centre crop
    and lets libjpeg decode 12 MP photos at 1/8 scale."""
    return 2 * engine.bundle.preprocess.size


def _decode(path: Path, max_side: int, digest: bool = True) -> Photo | PhotoError:
    try:
        return load_photo(path, max_side=max_side, digest=digest)
    except PhotoError as exc:
        return exc


def classify_files(
    paths: Iterable[Path],
    engine: Engine,
    *,
    head: str | None = None,
    workers: int = 2,
    batch_size: int | None = None,
    max_side: int | None = None,
    keep_embeddings: bool = False,
    hash_files: bool = True,
    decode: Callable[[Path, int], Photo | PhotoError] | None = None,
) -> Iterator[FileResult]:
    """Yield one :class:`FileResult` per path, in order, decoding ``workers`` files at once.

    ``hash_files=False`` skips the SHA-256 of each file (``facts.sha256`` is None) when the
    caller never needs it; ``decode`` replaces :func:`load_photo` (tests, custom readers).
    """
    if decode is None:
        decode = partial(_decode, digest=hash_files)
    head_obj = engine.head(head)  # fail fast on an unknown head, before any decoding
    batch_size = batch_size or engine.batch_size
    side = max_side or working_side(engine)
    window = max(batch_size * 2, workers * 4)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="decode") as pool:
        pending: deque[tuple[Path, Future]] = deque()
        ready: list[tuple[Path, Photo | PhotoError]] = []
        it = iter(paths)
        while True:
            while len(pending) < window:  # keep the decode window full
                nxt = next(it, None)
                if nxt is None:
                    break
                pending.append((Path(nxt), pool.submit(decode, Path(nxt), side)))
            if not pending:
                break
            p, fut = pending.popleft()
            ready.append((p, fut.result()))
            if len(ready) == batch_size:
                yield from _run_batch(ready, engine, head_obj.name, keep_embeddings)
                ready = []
        if ready:
            yield from _run_batch(ready, engine, head_obj.name, keep_embeddings)


def _run_batch(
    items: list[tuple[Path, Photo | PhotoError]], engine: Engine, head: str, keep: bool
) -> Iterator[FileResult]:
    photos = [x for _, x in items if isinstance(x, Photo)]
    embeddings = engine.embed([ph.image for ph in photos]) if photos else None
    predictions = engine.classify_embeddings(embeddings, head) if photos else []
    k = 0
    for path, x in items:
        if isinstance(x, PhotoError):
            yield FileResult(path=path, error=x)
            continue
        yield FileResult(
            path=path,
            prediction=predictions[k],
            facts=x.facts,
            embedding=embeddings[k] if keep and embeddings is not None else None,
        )
        k += 1
