"""After-index hooks: the work features do once photos are in the catalog.

``library/`` indexes photos; features (automatic tags, faces) add their own work after
indexing without ``library/`` importing them. A feature registers a function with
:func:`after_index` in its registration module (``smartalbum.tags.hooks``,
``smartalbum.faces.hooks``), which the top layers load through
``smartalbum.features.load_features()`` (the CLI group, the web app factory, the Celery
app). Every way of indexing then calls :func:`run_after_index` with what it produced:

- ``smartalbum index`` (``Indexer.run`` in the process): one event at the end of the run,
  ``final=True``, with the photos the run embedded.
- a background index job: one event per chunk (``final=False``; the chunk's photos, in
  the worker) and one when the whole job is done (``final=True``, no photos, no engine:
  whole-index work such as queueing a face scan of the job's folders).

So tagging runs at the same point for both (the end of a run, or of each chunk), and a
face scan is considered after every index, in the CLI as in a job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from sqlalchemy.orm import Session, sessionmaker

    from smartalbum.config import Settings
    from smartalbum.model.engine import Engine


@dataclass
class IndexedPhotos:
    """What one index step produced, as the hooks see it.

    ``photo_ids`` are the photos whose embedding the step computed (new or changed
    content, or a new backbone version), each once; ``embeddings`` their vectors in the
    same order when the step kept them in memory (small runs: see
    ``library.indexer.KEEP_EMBEDDINGS``), else None and a hook reads the catalog.
    ``scope`` is the files the step covered (a job's chunk), None for "the whole
    catalog" (an in-process run catches up on everything it finds stale).
    """

    factory: sessionmaker[Session]
    settings: Settings
    roots: tuple[str, ...]  # the folders (or files) indexed, absolute
    final: bool  # the whole index is done: a CLI run, or a job's last chunk
    engine: Engine | None = None  # the model that indexed (None at a job's end)
    backbone_version: str | None = None
    photo_ids: tuple[int, ...] = ()
    embeddings: np.ndarray | None = None
    scope: tuple[str, ...] | None = None
    job_id: str | None = None  # the background index job, None for an in-process run
    notes: list[str] = field(default_factory=list)

    @property
    def in_job(self) -> bool:
        """True in a worker, as part of a background job (nobody reads notes there)."""
        return self.job_id is not None

    def note(self, text: str) -> None:
        """A one-line message for the person who ran the index (the CLI prints it)."""
        self.notes.append(text)


AfterIndex = Callable[[IndexedPhotos], None]

#: The registered hooks by qualified name, in the order they run (registration order;
#: importing a registration module again replaces its hooks, never adds them twice).
HOOKS: dict[str, AfterIndex] = {}


def after_index(fn: AfterIndex) -> AfterIndex:
    """Register ``fn`` to run after every index step (a decorator; returns ``fn``)."""
    HOOKS[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def run_after_index(event: IndexedPhotos) -> list[str]:
    """Run every registered hook on ``event``; returns the notes they left.

    A hook's exception propagates: tagging is part of the index run (an interrupted
    run is recorded as such and the next run tags what is left), and a hook that must
    not fail an index (queueing a job) catches its own errors.
    """
    for hook in list(HOOKS.values()):
        hook(event)
    return event.notes
