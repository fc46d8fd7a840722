"""The serving engine: ONNX Runtime backbone + numpy heads. No torch import, ever.

One :class:`Engine` is built per process and shared by every thread: ONNX Runtime's
``InferenceSession.run`` is thread-safe, heads are read-only numpy arrays, so the web
server's threads and the CLI's decode pool can all call it at once. Thread counts are set
explicitly because ORT's default (one thread per core for *each* session) oversubscribes
a 2-core machine as soon as decoding runs beside it.

The same goes for numpy's BLAS: OpenBLAS starts one worker thread per core, and after each
call (the heads' small matrix products) that thread spins, waiting for more work. In the web
server that spinning thread burnt as much CPU as the request itself (86 -> 171 ms per
12 MP photo, measured in docs/benchmarks.md), taken from the threads decoding JPEGs, so the
engine limits BLAS to the calling thread (``blas_threads``) through threadpoolctl.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort
from cachetools import LRUCache, cached
from cachetools.keys import hashkey

from smartalbum.imaging.preprocess import preprocess_batch
from smartalbum.model.bundle import DEFAULT_BUNDLE_DIR, Bundle
from smartalbum.model.heads import Head, Prediction

if TYPE_CHECKING:
    from smartalbum.config import Settings
    from smartalbum.model.user_heads import HeadStore


def limit_blas_threads(threads: int) -> None:
    """Cap the BLAS libraries loaded in this process (numpy's OpenBLAS) at ``threads``.

    Process-wide and lasting: every head, tag and search product here is small enough that
    one thread is as fast, and no idle BLAS thread then spins beside the decoders.
    """
    from threadpoolctl import ThreadpoolController

    ThreadpoolController().limit(limits=threads, user_api="blas")


class Engine:
    """Backbone session + heads of one bundle.

    ``blas_threads``: see the module's note; ``None`` leaves BLAS as it is.
    """

    def __init__(
        self,
        bundle: Bundle,
        *,
        threads: int = 0,
        batch_size: int = 16,
        user_heads_dir: Path | None = None,
        heads: HeadStore | None = None,
        blas_threads: int | None = 1,
    ) -> None:
        self.bundle = bundle
        if blas_threads:
            limit_blas_threads(blas_threads)
        # The user's retrained versions of the bundle's heads (model/user_heads.py), kept
        # in step with what another process or machine may activate while this engine
        # serves: from ``heads`` (the catalog's store, where there is a catalog), else the
        # filesystem store under ``user_heads_dir``.
        self.user_heads = None
        if heads is not None or user_heads_dir is not None:
            from smartalbum.model.user_heads import UserHeads

            self.user_heads = UserHeads(
                heads if heads is not None else Path(user_heads_dir), bundle
            )
        self.batch_size = max(1, batch_size)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads if threads > 0 else (os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(bundle.backbone_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        outputs = [o.name for o in self.session.get_outputs()]
        self.embedding_output = bundle.backbone.get("embedding_output", outputs[0])
        self.logits_output = bundle.backbone.get("logits_output")
        if self.logits_output not in outputs:
            self.logits_output = None
        self.version = bundle.version

    @classmethod
    def load(cls, path: Path | str | None = None, **kwargs: Any) -> Engine:
        """Load a bundle directory (default: the shipped one) and build its engine."""
        return cls(Bundle.load(path), **kwargs)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        bundle: Path | str | None = None,
        threads: int | None = None,
        heads: HeadStore | None = None,
    ) -> Engine:
        """The one way to build a serving engine: the process's engine for these settings.

        ``heads``: where the user's head versions live. Callers with a catalog (the web
        app, the CLI, a jobs worker) hand the catalog's store (library/head_store.py) so
        every machine serves the same active heads; without one, the filesystem store
        under ``<data dir>/heads`` (catalog-less use, e.g. the serverless handler).

        Cached per (bundle, store, threads, batch size), so each process loads a bundle
        once per store.
        """
        from smartalbum.model.user_heads import FileHeadStore, directory

        path = Path(bundle or settings.model.bundle or DEFAULT_BUNDLE_DIR).expanduser().resolve()
        store = heads if heads is not None else FileHeadStore(directory(settings.data_dir))
        return _engine_for(
            path,
            store,
            settings.model.threads if threads is None else threads,
            settings.model.batch_size,
        )

    @property
    def embedding_dim(self) -> int:
        return int(self.bundle.backbone.get("embedding_dim", 0))

    def head(self, name: str | None = None) -> Head:
        if self.user_heads is not None and self.user_heads.refresh():
            self.version = self.bundle.version  # a head changed: so did the results' key
        return self.bundle.head(name)

    def run_batch(self, batch: np.ndarray, *, with_logits: bool = False) -> dict[str, np.ndarray]:
        """Run preprocessed N x 3 x S x S input; returns ``embedding`` (+ ``imagenet_logits``)."""
        names = [self.embedding_output]
        if with_logits and self.logits_output:
            names.append(self.logits_output)
        parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
        for start in range(0, len(batch), self.batch_size):
            chunk = np.ascontiguousarray(batch[start : start + self.batch_size], dtype=np.float32)
            for name, value in zip(
                names, self.session.run(names, {self.input_name: chunk}), strict=True
            ):
                parts[name].append(value)
        out = {"embedding": _cat(parts[self.embedding_output], self.embedding_dim)}
        if with_logits and self.logits_output:
            out["imagenet_logits"] = _cat(parts[self.logits_output], 1000)
        return out

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Upright RGB uint8 photos -> N x D float32 embeddings."""
        return self.run_batch(preprocess_batch(images, self.bundle.preprocess))["embedding"]

    def classify(self, images: Sequence[np.ndarray], head: str | None = None) -> list[Prediction]:
        """Photos -> predictions under ``head`` (default head when None)."""
        return self.classify_embeddings(self.embed(images), head)

    def classify_embeddings(
        self, embeddings: np.ndarray, head: str | None = None
    ) -> list[Prediction]:
        """Stored embeddings -> predictions, with no backbone run."""
        if len(embeddings) == 0:
            return []
        return self.head(head).predict(embeddings)


def _engine_key(bundle: Path, store: HeadStore, threads: int, batch_size: int) -> Any:
    return hashkey(bundle, store.key, threads, batch_size)


@cached(cache=LRUCache(maxsize=4), key=_engine_key, lock=threading.Lock())
def _engine_for(bundle: Path, store: HeadStore, threads: int, batch_size: int) -> Engine:
    return Engine.load(bundle, threads=threads, batch_size=batch_size, heads=store)


def _cat(parts: list[np.ndarray], dim: int) -> np.ndarray:
    if not parts:
        return np.zeros((0, dim), dtype=np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)
