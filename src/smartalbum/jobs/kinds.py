"""Job kinds: whole-job kinds (one task on one worker) and chunked kinds (spread over the
workers), both registered here by the packages that own them.

Heavy work is cut into chunks that every worker shares (jobs.tasks): indexing, and the
kinds registered with :func:`chunked_kind` (faces scans, category re-sorts). A chunked
kind says how to list the job's items once (``plan``: the total is fixed then), how to do
a chunk of them (idempotently: a killed worker's chunk is run again) and, optionally, one
final step after every chunk (faces: group the new faces into people). The other kinds
are short enough, or sequential enough, to run as one task: classify a batch of files,
re-run a head over the catalog from stored embeddings, organise the catalog's photos (its
journal is one sequential record: resume and undo read it in order). Such a kind is a
function registered with :func:`job_kind`; it receives a :class:`JobContext` and returns
the job's result (a JSON-able dict).

Reliability: the task is ``acks_late``, the context heartbeats the job on every
:meth:`JobContext.progress`, and the worker sweep (tasks.sweep) re-sends a running job
whose heartbeat went stale — so a runner must be *idempotent*: running it again from the
start must leave the catalog right (upserts, ``ON CONFLICT DO NOTHING``, journals).
``ctx.rerun`` tells the runner it is a second attempt (organise then resumes its journal).
Cancelling a job makes the next ``progress`` call raise :class:`Cancelled`.

Other packages register their kinds the same way (faces scanning, category re-sorting):
importing the module that holds the ``@job_kind``/``@chunked_kind`` functions is enough, as
long as it is listed in :data:`KIND_MODULES` (so a worker process imports it before taking
tasks); the core never imports a feature package by name otherwise.
"""

from __future__ import annotations

import importlib
import logging
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import case, update

from smartalbum.config import Settings
from smartalbum.errors import Cancelled, SmartAlbumError
from smartalbum.jobs.roots import check_within_roots
from smartalbum.library.db import session_scope
from smartalbum.library.schema import (
    JOB_FINISHED,
    JOB_RUNNING,
    Job,
    utcnow,
)

log = logging.getLogger(__name__)

Runner = Callable[["JobContext"], dict[str, Any] | None]

#: Kinds that run as one task (name -> runner), filled by :func:`job_kind`.
RUNNERS: dict[str, Runner] = {}

#: Modules whose import registers more kinds; imported lazily by :func:`load_kinds`.
KIND_MODULES: list[str] = [
    "smartalbum.tags.jobs",
    "smartalbum.categories.jobs",
    "smartalbum.faces.jobs",
]

#: Largest number of per-photo results kept in a classify job's result.
MAX_RESULTS = 10_000


def job_kind(name: str) -> Callable[[Runner], Runner]:
    """Register ``fn`` as the runner of job kind ``name``."""

    def register(fn: Runner) -> Runner:
        RUNNERS[name] = fn
        return fn

    return register


def _import_kind_modules() -> None:
    for module in KIND_MODULES:
        try:
            importlib.import_module(module)
        except ImportError as exc:  # a feature that is not installed offers no kind
            log.debug("job kinds of %s unavailable: %s", module, exc)


def load_kinds() -> dict[str, Runner]:
    """Every registered kind, whole-job and chunked (imports :data:`KIND_MODULES`)."""
    _import_kind_modules()
    return {**RUNNERS, **{name: _chunked_only for name in CHUNKED}}


def load_chunked() -> dict[str, ChunkedKind]:
    """The registered chunked kinds (imports :data:`KIND_MODULES`)."""
    _import_kind_modules()
    return CHUNKED


def _chunked_only(ctx: JobContext) -> dict[str, Any] | None:  # pragma: no cover - guard
    """What ``RUNNERS``-style lookups get for a chunked kind: it is planned, never run as
    one task (``run`` and the run task hand it to the planning instead)."""
    raise ValueError(f"job {ctx.job_id} is of a chunked kind: it is planned, not run whole")


# --------------------------------------------------------------------------- chunked kinds


@dataclass
class ChunkContext:
    """What a chunked kind's chunk function gets: its items, and per-item progress.

    ``items`` are done in order and ``progress(n)`` counts them; a chunk run again after
    its worker died starts over (``attempts`` > 1), so the work must skip what a previous
    attempt committed (and still count it). The chunk's progress only grows.
    """

    settings: Settings
    factory: Any
    job_id: str
    params: dict[str, Any]
    items: list[str]
    attempts: int
    claim: Any  # jobs.store.Claim
    done: int = 0
    #: What the chunk reports (JSON-able), kept with it for the kind's final step
    #: (``store.chunk_results``).
    result: Any = None

    def engine(self) -> Any:
        """The worker's model engine (loaded once per process)."""
        from smartalbum.jobs.tasks import model_engine

        return model_engine(self.settings)

    def progress(self, n: int = 1) -> None:
        """``n`` more items of the chunk done; raises :class:`Cancelled` when the job was
        cancelled (the worker stops after what it just committed)."""
        from smartalbum.jobs import store

        self.done += n
        if not store.chunk_progress(self.factory, self.claim, self.done):
            raise Cancelled

    def item_error(self, item: str, code: str, message: str) -> None:
        """One item failed (it still counts as done); listed by the API's failed_items."""
        from smartalbum.jobs import store

        store.record_item_error(self.factory, self.job_id, item, code, message)


@dataclass(frozen=True)
class ChunkedKind:
    """A kind spread over the workers: ``plan`` lists every item once (strings; the
    job's total), ``chunk`` does a chunk of them, ``finish`` (optional) is one final step
    after every chunk, whose return value is the job's result. ``smallest``/``largest``
    bound the chunk size (store.chunk_size picks one from the live workers)."""

    name: str
    plan: Callable[[JobContext], list[str]]
    chunk: Callable[[ChunkContext], None]
    finish: Callable[[JobContext], dict[str, Any] | None] | None = None
    smallest: int = 1
    largest: int = 64


#: Kinds spread over the workers (name -> kind), filled by :func:`chunked_kind`.
CHUNKED: dict[str, ChunkedKind] = {}


def chunked_kind(
    name: str,
    *,
    plan: Callable[[JobContext], list[str]],
    finish: Callable[[JobContext], dict[str, Any] | None] | None = None,
    smallest: int = 1,
    largest: int = 64,
) -> Callable[[Callable[[ChunkContext], None]], Callable[[ChunkContext], None]]:
    """Register the decorated function as the chunk runner of chunked kind ``name``."""

    def register(fn: Callable[[ChunkContext], None]) -> Callable[[ChunkContext], None]:
        CHUNKED[name] = ChunkedKind(name, plan, fn, finish, smallest, largest)
        RUNNERS.pop(name, None)
        return fn

    return register


@dataclass
class JobContext:
    """What a runner gets: settings, the catalog, its job's params, and progress."""

    settings: Settings
    factory: Any
    job_id: str
    params: dict[str, Any]
    rerun: bool = False
    done: int = 0
    errors: int = 0

    def engine(self) -> Any:
        """The worker's model engine (loaded once per process)."""
        from smartalbum.jobs.tasks import model_engine

        return model_engine(self.settings)

    def total(self, total: int) -> None:
        """Announce how many items the job has (shown as done/total, rate, ETA).

        The first announcement stays: a re-run after a killed worker finds fewer items
        left, and a total that shrank would make the job end "89/89" of 120."""
        now = utcnow()
        with session_scope(self.factory) as s:
            s.execute(
                update(Job)
                .where(Job.id == self.job_id)
                .values(
                    total=case((Job.total.is_(None), total), else_=Job.total),
                    heartbeat_at=now,
                    progress_at=now,
                )
            )

    def progress(self, n: int = 1) -> None:
        """``n`` more items done; raises :class:`Cancelled` when the job was cancelled.

        The job's ``done`` never goes down: a re-run counts from 0 again and is shown
        once it passes what the killed attempt reached."""
        self.done += n
        now = utcnow()
        with session_scope(self.factory) as s:
            changed = s.execute(
                update(Job)
                .where(Job.id == self.job_id, Job.status == JOB_RUNNING)
                .values(
                    done=case((Job.done > self.done, Job.done), else_=self.done),
                    heartbeat_at=now,
                    progress_at=now,
                )
            ).rowcount
        if not changed:
            raise Cancelled

    def item_error(self, item: str, code: str, message: str) -> None:
        """One item failed (the job goes on); listed by the API's ``failed_items``."""
        from smartalbum.jobs import store

        self.errors += 1
        store.record_item_error(self.factory, self.job_id, item, code, message)
        with session_scope(self.factory) as s:
            s.execute(update(Job).where(Job.id == self.job_id).values(errors=self.errors))


def start(factory: Any, job_id: str) -> tuple[Job | None, bool]:
    """Mark the job running; (job, rerun) — job None when finished or unknown."""
    now = utcnow()
    with session_scope(factory) as s:
        job = s.get(Job, job_id)
        if job is None or job.status in JOB_FINISHED:
            return None, False
        rerun = job.started_at is not None
        job.status = JOB_RUNNING
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.progress_at = now
        s.flush()
        s.expunge(job)
        return job, rerun


def finish(factory: Any, job_id: str, result: dict[str, Any] | None) -> None:
    """Mark a running job done with its result (a cancelled job stays cancelled).

    A runner that returned went through every item (a re-run skips, and may not count,
    what a killed attempt did), so a done job shows done = total."""
    with session_scope(factory) as s:
        s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JOB_RUNNING)
            .values(
                status="done",
                result=result,
                finished_at=utcnow(),
                done=case(
                    (Job.total.is_not(None) & (Job.total > Job.done), Job.total),
                    else_=Job.done,
                ),
            )
        )


def run(settings: Settings, factory: Any, job_id: str) -> None:
    """Run one whole-job kind to the end (the body of the ``run_job`` task); a chunked
    kind is planned and its chunks run here, one after the other (a caller that wants
    the job done in this process: tests, tools)."""
    from smartalbum.jobs import store

    known = store.get_job(factory, job_id)
    if known is not None and known.kind in load_chunked():
        from smartalbum.jobs import tasks

        sent: list[int] = []
        tasks.plan(settings, factory, job_id, send=sent.append)
        for chunk_id in sent:
            tasks.run_chunk(settings, factory, chunk_id)
        return
    job, rerun = start(factory, job_id)
    if job is None:
        return
    runner = load_kinds().get(job.kind)
    if runner is None:
        store.fail_job(factory, job_id, f"no worker here knows job kind {job.kind!r}")
        return
    ctx = JobContext(settings, factory, job_id, dict(job.params or {}), rerun=rerun)
    try:
        result = runner(ctx)
    except Cancelled:
        return
    except (ValueError, OSError, LookupError, SmartAlbumError) as exc:
        store.fail_job(factory, job_id, f"{type(exc).__name__}: {exc}")
        return
    finish(factory, job_id, result)


# --------------------------------------------------------------------------- built-in kinds


@job_kind("classify")
def classify_batch(ctx: JobContext) -> dict[str, Any]:
    """Classify a batch of files: ``paths`` on the shared photo mount, or ``uploads`` (how
    many photos were uploaded with the job; their bytes wait in the catalog, see
    jobs/uploads.py, so any worker on any machine can read them); optional ``head`` and
    ``names``.

    Results go into the job's result (one per file, in order). Uploads are deleted when
    the job ends. Items and messages name the file as the user knows it (its original
    name), never a server path. ``spool`` (a folder of uploaded copies, from jobs queued by
    an older version) is deleted at the end too.
    """
    from smartalbum.jobs import uploads
    from smartalbum.model.pipeline import classify_files

    uploaded = ctx.params.get("uploads")
    if uploaded is not None:
        names = uploads.names(ctx.factory, ctx.job_id)
        paths = [str(i) for i in range(len(names))]
        decode = partial(_decode_upload, ctx, names)
    else:
        paths = [str(p) for p in ctx.params.get("paths", [])]
        names = list(ctx.params.get("names") or [Path(p).name for p in paths])
        decode = None
    head = ctx.params.get("head")
    ctx.total(len(paths))
    engine = ctx.engine()
    results: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    try:
        files = [Path(p) for p in paths]
        items = classify_files(files, engine, head=head, hash_files=False, decode=decode)
        for i, item in enumerate(items):
            name = names[i] if i < len(names) else f"photo {i + 1}"
            out = item.to_dict()
            out["path"] = name
            if item.error is not None:
                message = str(item.error).replace(paths[i], name)  # never a server path
                ctx.item_error(name, item.error.code, message)
                out["error"] = {**(out.get("error") or {}), "detail": message}
            elif out.get("label"):
                counts[out["label"]] += 1
            if len(results) < MAX_RESULTS:
                results.append(out)
            ctx.progress(1)
    finally:
        if uploaded is not None:
            uploads.delete_for(ctx.factory, ctx.job_id)
        spool = ctx.params.get("spool")
        if spool:
            shutil.rmtree(spool, ignore_errors=True)
    return {"head": engine.head(head).name, "counts": dict(counts), "results": results}


def _decode_upload(ctx: JobContext, names: list[str], position: Path, max_side: int) -> Any:
    """Decode upload number ``position`` of the job from its bytes in the catalog."""
    from smartalbum.imaging import PhotoError, load_photo
    from smartalbum.imaging.errors import FileReadError
    from smartalbum.jobs import uploads

    index = int(str(position))
    name = names[index]
    data = uploads.read(ctx.factory, ctx.job_id, index)
    if data is None:
        return FileReadError(f"{name}: the upload is gone (the job was cancelled?)", source=name)
    try:
        return load_photo(data, max_side=max_side, name=name, digest=False)
    except PhotoError as exc:
        return exc


@job_kind("rehead")
def rerun_head(ctx: JobContext) -> dict[str, Any]:
    """Compute a head's predictions for every stored embedding that lacks one (no decode,
    no backbone run): what a new or retrained head needs to re-sort the catalog."""
    from smartalbum.library.catalog import model_key
    from smartalbum.library.indexer import predict_missing

    engine = ctx.engine()
    key = model_key(engine, ctx.params.get("head"))
    done = predict_missing(
        ctx.factory, engine, key.head, on_total=ctx.total, on_progress=ctx.progress
    )
    return {"head": key.head, "head_version": key.head_version, "predicted": done}


@job_kind("organize")
def organize_catalog(ctx: JobContext) -> dict[str, Any]:
    """Organise the catalog's photos into ``into`` (``mode``, ``layout``, ``xmp``, ``head``),
    exactly like ``smartalbum organize``; ``photo_ids`` limits it to those photos (the
    gallery's selection). A re-run resumes the journal it left."""
    import smartalbum.organize as org

    into = check_within_roots(ctx.params["into"], ctx.settings.jobs.roots, "'into'")
    journals = org.find_journals(into) if ctx.rerun and into.exists() else []
    if journals:
        result = org.run(None, ctx.progress, journal=journals[-1], catalog=lambda: ctx.factory)
    else:
        plan = org.plan_from_catalog(
            ctx.factory,
            into,
            mode=ctx.params.get("mode", "copy"),
            layout=ctx.params.get("layout"),
            xmp=bool(ctx.params.get("xmp")),
            head=ctx.params.get("head") or ctx.engine().head(None).name,  # the worker's model
            photo_ids=ctx.params.get("photo_ids"),
        )
        ctx.total(len(plan.items))
        result = org.run(plan, ctx.progress, catalog=lambda: ctx.factory)
    if result.catalog_warning:
        log.warning("organize job %s: %s", ctx.job_id, result.catalog_warning)
    return {
        "journal": str(result.journal),
        "counts": dict(result.counts),
        "failed": [{"source": str(item.source), "reason": why} for item, why in result.failed],
    }
