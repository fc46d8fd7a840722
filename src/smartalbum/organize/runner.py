"""The one entry point of a run, shared by ``smartalbum organize`` and the ``organize`` job:
carry out a plan, finish an interrupted run, or undo one — then tell the catalog."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smartalbum.organize.catalog import sync_catalog
from smartalbum.organize.executor import Result, execute, resume
from smartalbum.organize.journal import read_states
from smartalbum.organize.plan import Plan
from smartalbum.organize.progress import PhotoProgress
from smartalbum.organize.undo import rollback


def run(
    plan: Plan | None,
    progress: Callable[[int], object] | None = None,
    *,
    journal: str | os.PathLike[str] | None = None,
    undo: bool = False,
    catalog: Callable[[], Any] | None = None,
) -> Result:
    """Carry out ``plan`` under a new journal; or, with ``plan`` None, finish the run of
    ``journal`` (``undo=True``: roll it back instead).

    ``progress(n)`` is told each time ``n`` more photos are finished. ``catalog()`` returns
    the catalog's session factory; it is called only after the files are done, and a
    catalog that cannot be opened or updated does not fail the run (the files are right and
    ``smartalbum index`` catches up): ``Result.catalog_warning`` says so instead.
    Errors: :class:`~smartalbum.organize.errors.OrganizeError` (an unusable journal, a
    full disk); per-photo failures are in ``Result.failed``.
    """
    if (plan is None) == (journal is None):
        raise ValueError("organize.run takes a plan, or the journal of an earlier run")
    advance = PhotoProgress(progress) if progress is not None else None
    before = None
    if plan is not None:
        result = execute(plan, progress=advance)
    elif undo:
        journal = Path(journal)  # type: ignore[arg-type]
        if journal.is_file():
            before = read_states(journal)  # a clean rollback removes the journal
        result = rollback(journal)
    else:
        result = resume(journal, progress=advance)  # type: ignore[arg-type]
    if catalog is not None:
        try:
            sync_catalog(catalog(), result.journal, before)
        except Exception as exc:  # noqa: BLE001 - the files are right; the catalog can catch up
            result.catalog_warning = (
                f"catalog not updated ({exc}); run smartalbum index {result.journal.parent}"
            )
    return result
