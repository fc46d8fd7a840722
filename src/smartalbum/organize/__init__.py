"""Organising photos into folders by label and date, without ever losing or overwriting a file.

``smartalbum organize --into DIR`` (and the ``organize`` job) first makes a :class:`Plan`
(printed; ``--dry-run`` stops there and touches nothing), then carries it out with a
journal that makes every step resumable and reversible, through one entry point,
:func:`run`. The modules, each one concern:

* ``layout``   where a photo goes: ``--layout`` placeholders, safe names, collision names
* ``plan``     :func:`make_plan`: every photo's destination and action, foreseen collisions
* ``fileops``  the file operations, none of which can overwrite (exclusive temporary files,
  hard-link or placeholder publication, SHA-256 checks, directory fsyncs)
* ``sidecars`` XMP sidecars written, merged and restored
* ``journal``  the fsynced JSON-lines journal and its replay
* ``executor`` :func:`execute` / :func:`resume`: the steps, journaled one by one
* ``undo``     :func:`rollback`: restore moved files, remove what the run created
* ``catalog``  the plan from the catalog's photos; the catalog told where they are now
* ``progress`` per-step reports -> photos finished (:class:`PhotoProgress`)
* ``runner``   :func:`run`: plan, resume or rollback, then the catalog sync

The guarantees (details in ``executor`` and ``undo``): nothing is overwritten, copies are
verified by SHA-256 before a move removes a source, and after a crash or SIGKILL at any
point :func:`resume` finishes the run and :func:`rollback` undoes it — deleting nothing
the run did not create.
"""

from __future__ import annotations

from smartalbum.library.xmp import sidecar_path
from smartalbum.organize.catalog import plan_from_catalog, sync_catalog
from smartalbum.organize.errors import (
    DiskFullError,
    InterruptedRunError,
    JournalError,
    LayoutError,
    OrganizeError,
    SourceChangedError,
)
from smartalbum.organize.executor import Result, execute, resume
from smartalbum.organize.journal import (
    JOURNAL_PREFIX,
    JOURNAL_VERSION,
    ItemState,
    Journal,
    check_no_interrupted_run,
    find_journals,
    read_states,
    replay,
    unfinished_journals,
)
from smartalbum.organize.layout import (
    DEFAULT_LAYOUT,
    PLACEHOLDERS,
    REVIEW_DIR,
    render,
    validate_layout,
)
from smartalbum.organize.plan import MODES, Mode, Plan, PlanItem, make_plan
from smartalbum.organize.progress import Fault, PhotoProgress, Progress
from smartalbum.organize.runner import run
from smartalbum.organize.undo import rollback

__all__ = [
    "DEFAULT_LAYOUT",
    "JOURNAL_PREFIX",
    "JOURNAL_VERSION",
    "MODES",
    "PLACEHOLDERS",
    "REVIEW_DIR",
    "DiskFullError",
    "InterruptedRunError",
    "Fault",
    "ItemState",
    "Journal",
    "JournalError",
    "LayoutError",
    "Mode",
    "OrganizeError",
    "PhotoProgress",
    "Plan",
    "PlanItem",
    "Progress",
    "Result",
    "SourceChangedError",
    "check_no_interrupted_run",
    "execute",
    "find_journals",
    "make_plan",
    "plan_from_catalog",
    "read_states",
    "render",
    "replay",
    "resume",
    "rollback",
    "run",
    "sidecar_path",
    "sync_catalog",
    "unfinished_journals",
    "validate_layout",
]
