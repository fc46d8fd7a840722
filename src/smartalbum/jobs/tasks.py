"""The tasks: plan a chunked job (index, or a kind registered with ``jobs.kinds.
chunked_kind``) into chunks, run a chunk; the sweep that re-sends the chunks of dead
workers; and each worker's heartbeat (store.live_workers: chunk sizes follow it).

Chunk sizes adapt to the live workers (store.chunk_size): about
``jobs.chunks_per_worker`` chunks per worker, so 20 photos on four workers are four or more
chunks, not one. A chunked kind's final step runs once, after every chunk, on the worker
that finished the last one (store.release_final).

Indexing a chunk is ``library.indexer.Indexer`` run over the chunk's files (single-file
roots, ``scope`` the chunk, ``job_id`` the job), so a job indexes exactly like
``smartalbum index``: one transaction per batch, ``ON CONFLICT DO NOTHING`` everywhere,
unchanged files skipped, the after-index hooks (``library.hooks``: tags) run on each
chunk's photos. That is what makes a chunk idempotent: run it twice, or kill it half-way
and run it again, and every photo is in the catalog exactly once, the second run reading
only what the first did not commit. When the last chunk is done, the hooks run once more
for the whole job (``final``: faces queue a scan of the job's folders).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from celery import Celery
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from smartalbum.config import Settings
from smartalbum.errors import Cancelled, SmartAlbumError
from smartalbum.features import load_features
from smartalbum.imaging.files import find_photos
from smartalbum.jobs import store
from smartalbum.jobs.roots import within_roots
from smartalbum.library.db import open_catalog, session_scope
from smartalbum.library.hooks import IndexedPhotos, run_after_index
from smartalbum.library.indexer import Indexer, IndexSummary
from smartalbum.library.paths import under_roots
from smartalbum.library.schema import (
    FILE_MISSING,
    FILE_PRESENT,
    JOB_FAILED,
    File,
    IndexErrorRecord,
)

log = logging.getLogger(__name__)

PLAN_TASK = "smartalbum.index.plan"
CHUNK_TASK = "smartalbum.index.chunk"
RUN_TASK = "smartalbum.job.run"  # whole-job kinds (jobs.kinds)
#: Transient database trouble (a restarted PostgreSQL, a locked SQLite): retried with backoff.
TRANSIENT = (OperationalError,)
MAX_CHUNKS = 400
#: Smallest index chunk: each pays a pipeline fill and drain (~0.3 s), ~8 photos' work.
MIN_INDEX_CHUNK = 8


# --------------------------------------------------------------------------- per process


def model_engine(settings: Settings) -> Any:
    """The model engine of this worker process (loaded once, on the first task), serving
    the head versions active in the catalog (shared by every machine)."""
    from smartalbum.library.head_store import catalog_head_store
    from smartalbum.model.engine import Engine

    return Engine.from_settings(
        settings, heads=catalog_head_store(catalog(settings), settings.data_dir)
    )


def catalog(settings: Settings):  # noqa: ANN201
    return open_catalog(settings)[1]


# --------------------------------------------------------------------------- tasks


def bind(app: Celery) -> None:
    """Register the tasks on ``app`` (one app per settings; see jobs.app.make_celery)."""
    load_features()  # the after-index hooks of the features, for chunks and job ends

    def settings_of(task: Any) -> Settings:
        return task.app.conf.smartalbum_settings

    # Every task is retried, backing off, when the catalog fails in a way that may pass (TRANSIENT).
    retried: dict[str, Any] = {
        "bind": True,
        "autoretry_for": TRANSIENT,
        "retry_backoff": 2,
        "retry_backoff_max": 60,
        "max_retries": 8,
    }

    @app.task(name=PLAN_TASK, **retried)
    def plan_index(self: Any, job_id: str) -> None:
        settings = settings_of(self)
        plan(settings, catalog(settings), job_id, send=lambda cid: chunk_task.delay(job_id, cid))

    @app.task(name=CHUNK_TASK, **retried)
    def chunk_task(self: Any, job_id: str, chunk_id: int) -> None:
        settings = settings_of(self)
        factory = catalog(settings)
        if _kind_of(factory, job_id) == "index":
            index_chunk(settings, factory, chunk_id)
        else:
            run_chunk(settings, factory, chunk_id)

    @app.task(name=RUN_TASK, **retried)
    def run_job(self: Any, job_id: str) -> None:
        from smartalbum.jobs.kinds import run

        settings = settings_of(self)
        factory = catalog(settings)
        if _kind_of(factory, job_id) in store.chunked_kinds():  # sent by an older node
            plan(settings, factory, job_id, send=lambda cid: chunk_task.delay(job_id, cid))
        else:
            run(settings, factory, job_id)

    app.conf.smartalbum_tasks = {"plan": plan_index, "chunk": chunk_task, "run": run_job}


def workers_for_planning(settings: Settings, factory: store.Factory) -> int:
    """How many tasks the live workers take at once (store.FALLBACK_WORKERS when none
    heartbeated: a job submitted before its workers started)."""
    return store.live_workers(factory) or store.FALLBACK_WORKERS


def plan(settings: Settings, factory: store.Factory, job_id: str, send: Any) -> None:
    """Plan a chunked job: an index job's photos, or a registered chunked kind's items."""
    job = store.start_planning(factory, job_id)
    if job is None:
        return
    if job.kind != "index":
        plan_chunked(settings, factory, job, send)
        return
    roots = [str(p) for p in job.params.get("paths", [])]
    try:
        files = [str(p) for p in find_photos(roots, recursive=True)]
    except (FileNotFoundError, OSError) as exc:
        store.fail_job(factory, job_id, str(exc))
        return
    if settings.jobs.roots:  # a symlink inside a root may point outside: not read
        inside = [f for f in files if within_roots(f, settings.jobs.roots)]
        if len(inside) < len(files):
            skipped = len(files) - len(inside)
            log.warning("job %s: %d file(s) lead outside the roots, skipped", job_id, skipped)
            files = inside
    size = int(job.params.get("chunk_size") or 0)
    if not size:
        # Each chunk pays a pipeline fill and drain (~0.3 s): chunks of at least
        # MIN_INDEX_CHUNK photos (or the configured size, if smaller), at most the
        # configured size, except that very large jobs get larger chunks, so that there
        # are at most MAX_CHUNKS of them; in between, enough chunks for every worker.
        largest = max(settings.jobs.chunk_size, min(512, -(-len(files) // MAX_CHUNKS)))
        size = store.chunk_size(
            len(files),
            workers_for_planning(settings, factory),
            settings.jobs.chunks_per_worker,
            min(settings.jobs.chunk_size, MIN_INDEX_CHUNK),
            largest,
        )
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    sent = store.add_chunks(factory, job_id, chunks)
    for chunk_id in sent:
        send(chunk_id)
    if not sent:  # nothing to do, or planned before and every chunk may be finished
        _finish_index_job(factory, job_id, settings)


def plan_chunked(settings: Settings, factory: store.Factory, job: Any, send: Any) -> None:
    """List a chunked kind's items (the job's fixed total), cut them into chunks sized
    for the live workers, send them; a job planned before only gets its final step
    released (when its last worker died before that)."""
    from smartalbum.jobs.kinds import JobContext, load_chunked

    kind = load_chunked().get(job.kind)
    if kind is None:
        store.fail_job(factory, job.id, f"no worker here knows job kind {job.kind!r}")
        return
    ctx = JobContext(settings, factory, job.id, dict(job.params or {}))
    if job.total is None:
        try:
            items = [str(item) for item in kind.plan(ctx)]
        except (ValueError, OSError, LookupError, SmartAlbumError) as exc:
            store.fail_job(factory, job.id, f"{type(exc).__name__}: {exc}")
            return
        size = store.chunk_size(
            len(items),
            workers_for_planning(settings, factory),
            settings.jobs.chunks_per_worker,
            kind.smallest,
            kind.largest,
        )
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        for chunk_id in store.add_chunks(factory, job.id, chunks, final=kind.finish is not None):
            send(chunk_id)
    _after_generic_chunk(settings, factory, job.id)


def run_chunk(settings: Settings, factory: store.Factory, chunk_id: int) -> None:
    """Claim and run one chunk of a registered chunked kind (or its final step)."""
    from smartalbum.jobs.kinds import ChunkContext, load_chunked

    claim = store.claim_chunk(factory, chunk_id, settings.jobs.stale_after_s)
    if claim is None:
        return
    kind = load_chunked().get(claim.kind)
    if kind is None:
        store.fail_job(factory, claim.job_id, f"no worker here knows job kind {claim.kind!r}")
        return
    if claim.final:
        _run_final(settings, factory, claim, kind)
        return
    if claim.attempts > settings.jobs.max_attempts:
        # This chunk killed (or hung) its worker every time: give up the items after
        # those a previous attempt finished (items are done in order), keep the job going.
        reason = f"the worker processing this item died {claim.attempts - 1} times"
        for item in claim.items[claim.done :]:
            store.record_item_error(factory, claim.job_id, item, "worker-lost", reason)
    else:
        ctx = ChunkContext(
            settings, factory, claim.job_id, claim.params, claim.items, claim.attempts, claim
        )
        try:
            kind.chunk(ctx)
        except Cancelled:
            store.finish_chunk(factory, claim, status="cancelled")
            return
        except (ValueError, OSError, LookupError, SmartAlbumError) as exc:
            store.fail_job(factory, claim.job_id, f"{type(exc).__name__}: {exc}")
            store.finish_chunk(factory, claim, status=JOB_FAILED)
            return
        store.finish_chunk(factory, claim, result=ctx.result)
        _after_generic_chunk(settings, factory, claim.job_id)
        return
    store.finish_chunk(factory, claim)
    _after_generic_chunk(settings, factory, claim.job_id)


def _after_generic_chunk(settings: Settings, factory: store.Factory, job_id: str) -> None:
    """The worker that finished the last chunk runs the final step (or ends the job)."""
    final_id = store.release_final(factory, job_id)
    if final_id is not None:
        run_chunk(settings, factory, final_id)
    else:
        store.maybe_finish_job(factory, job_id)


def _run_final(settings: Settings, factory: store.Factory, claim: store.Claim, kind: Any) -> None:
    """The kind's final step, heartbeated from a thread (it reports no items), then the
    job's end with its result. Killed, the step is re-sent: it must be idempotent."""
    from smartalbum.jobs.kinds import JobContext

    stop = threading.Event()
    every = max(0.2, min(5.0, settings.jobs.stall_after_s / 3))

    def beat() -> None:
        while not stop.wait(every):
            try:
                store.keep_alive(factory, claim)
            except Exception:  # noqa: BLE001 - a missed beat must not end the step
                log.debug("keep-alive of chunk %s failed", claim.chunk_id, exc_info=True)

    thread = threading.Thread(target=beat, name="smartalbum-final-step", daemon=True)
    thread.start()
    ctx = JobContext(settings, factory, claim.job_id, claim.params, rerun=claim.attempts > 1)
    try:
        result = kind.finish(ctx)
    except (ValueError, OSError, LookupError, SmartAlbumError) as exc:
        store.fail_job(factory, claim.job_id, f"{type(exc).__name__}: {exc}")
        store.finish_chunk(factory, claim, status=JOB_FAILED)
        return
    finally:
        stop.set()
        thread.join(timeout=every * 2)
    store.finish_chunk(factory, claim)
    store.maybe_finish_job(factory, claim.job_id, result)


def index_chunk(settings: Settings, factory: store.Factory, chunk_id: int) -> None:
    """Claim and index one chunk; progress after every committed batch."""
    claim = store.claim_chunk(factory, chunk_id, settings.jobs.stale_after_s)
    if claim is None:
        return
    if claim.attempts > settings.jobs.max_attempts:
        # This chunk killed (or hung) its worker every time: a photo in it crashes the
        # decoder outright. Give up its unfinished items, keep the job going.
        _fail_unindexed(
            factory,
            claim,
            "worker-lost",
            f"the worker processing this photo died {claim.attempts - 1} times",
        )
        store.finish_chunk(factory, claim)
        _after_chunk(factory, claim, settings)
        return
    present = [p for p in claim.items if os.path.exists(p)]
    engine = model_engine(settings)
    heads = claim.params.get("heads") or None
    indexer = Indexer(
        factory,
        engine,
        heads=heads,
        workers=int(claim.params.get("workers") or 2),
        scope=present,
        job_id=claim.job_id,
        settings=settings,
    )
    base = len(claim.items) - len(present)  # vanished since planning: nothing to do
    state = {"done": base}

    def on_plan(summary: IndexSummary) -> None:
        state["done"] = base + summary.unchanged + summary.known_errors
        if not store.chunk_progress(factory, claim, state["done"]):
            raise Cancelled

    def on_progress(n: int, _summary: IndexSummary) -> None:
        state["done"] += n
        if not store.chunk_progress(factory, claim, state["done"]):
            raise Cancelled

    try:
        if present:
            _run_isolating(indexer, present, factory, claim, on_plan, on_progress)
    except Cancelled:
        store.finish_chunk(factory, claim, status="cancelled")
        return
    _record_errors(factory, claim)
    store.finish_chunk(factory, claim)
    _after_chunk(factory, claim, settings)


def _run_isolating(indexer, present, factory, claim, on_plan, on_progress) -> None:  # noqa: ANN001
    """Index the chunk; when something other than a typed photo error escapes (a decoder
    bug on one photo), index the photos one by one so only the culprit fails."""
    try:
        indexer.run(present, on_plan=on_plan, on_progress=on_progress)
        return
    except (Cancelled, *TRANSIENT, DBAPIError):
        raise
    except Exception as exc:  # noqa: BLE001 - isolate the photo that raised it
        log.warning("chunk %s failed (%s); indexing its photos one by one", claim.chunk_id, exc)
    for path in present:
        try:
            indexer.run([path])
        except (Cancelled, *TRANSIENT, DBAPIError):
            raise
        except Exception as exc:  # noqa: BLE001 - this photo is the poison
            _record_failure(factory, path, "decoder-crash", f"{path}: {type(exc).__name__}: {exc}")


def _record_failure(factory: store.Factory, path: str, code: str, message: str) -> None:
    """Write the failure where ``smartalbum errors`` lists it (job errors are read from it)."""
    from smartalbum.library.db import insert_ignore
    from smartalbum.library.schema import utcnow

    values = {"code": code, "message": message, "created_at": utcnow()}
    try:
        st = os.stat(path)
        values.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
    except OSError:
        pass
    with session_scope(factory) as s:
        if not insert_ignore(s, IndexErrorRecord, {"path": path, **values}, ["path"]):
            s.execute(
                update(IndexErrorRecord).where(IndexErrorRecord.path == path).values(**values)
            )


def _fail_unindexed(factory: store.Factory, claim: store.Claim, code: str, message: str) -> None:
    with factory() as s:
        indexed = set(
            s.scalars(
                select(File.path).where(File.path.in_(claim.items), File.status == FILE_PRESENT)
            )
        )
    for path in claim.items:
        if path not in indexed:
            _record_failure(factory, path, code, f"{path}: {message}")
    _record_errors(factory, claim)


def _record_errors(factory: store.Factory, claim: store.Claim) -> None:
    """Copy the chunk's files that could not be indexed into the job's item errors."""
    with factory() as s:
        rows = s.execute(
            select(IndexErrorRecord.path, IndexErrorRecord.code, IndexErrorRecord.message).where(
                IndexErrorRecord.path.in_(claim.items)
            )
        ).all()
    for path, code, message in rows:
        store.record_item_error(factory, claim.job_id, path, code, message)


def _after_chunk(
    factory: store.Factory, claim: store.Claim, settings: Settings | None = None
) -> None:
    _finish_index_job(factory, claim.job_id, settings)


def _finish_index_job(
    factory: store.Factory, job_id: str, settings: Settings | None = None
) -> None:
    """When every chunk is finished: mark files gone from the roots missing, end the job."""
    job = store.get_job(factory, job_id)
    if job is None:
        return
    with factory() as s:
        from smartalbum.library.schema import JobChunk

        open_chunks = s.scalar(
            select(JobChunk.id)
            .where(JobChunk.job_id == job_id, JobChunk.status.in_(("queued", "running")))
            .limit(1)
        )
    if open_chunks is not None:
        return
    roots = [Path(p) for p in job.params.get("paths", []) if os.path.exists(p)]
    if roots:
        with session_scope(factory) as s:
            rows = s.execute(
                select(File.id, File.path).where(
                    under_roots(File.path, [r.resolve() for r in roots]),
                    File.status == FILE_PRESENT,
                )
            ).all()
            gone = [fid for fid, path in rows if not os.path.exists(path)]
            if gone:
                s.execute(update(File).where(File.id.in_(gone)).values(status=FILE_MISSING))
    if store.maybe_finish_job(factory, job_id) and settings is not None:
        # The whole-index work of the features (faces queue a scan of the job's folders).
        paths = tuple(str(p) for p in job.params.get("paths", []))
        run_after_index(IndexedPhotos(factory, settings, paths, final=True, job_id=job.id))


# --------------------------------------------------------------------------- sweeping


def sweep(app: Celery) -> int:
    """Send again the chunks (and plans) whose worker stopped heartbeating; returns how
    many. Safe to run from every worker at once: the task's claim takes a chunk once."""
    settings: Settings = app.conf.smartalbum_settings
    factory = catalog(settings)
    jobs, chunks = store.stale_work(factory, settings.jobs.stale_after_s)
    tasks = app.conf.smartalbum_tasks
    with app.connection_for_write() as conn:
        chunked = store.chunked_kinds()
        for job_id in jobs:
            task = tasks["plan"] if _kind_of(factory, job_id) in chunked else tasks["run"]
            task.apply_async((job_id,), connection=conn)
        for chunk_id in chunks:
            job_id = _job_of_chunk(factory, chunk_id)
            tasks["chunk"].apply_async((job_id, chunk_id), connection=conn)
    _prune_processed(settings)
    from smartalbum.jobs.uploads import delete_finished

    delete_finished(factory)  # uploads of jobs that ended without deleting theirs
    return len(jobs) + len(chunks)


def _kind_of(factory: store.Factory, job_id: str) -> str:
    from smartalbum.library.schema import Job

    with factory() as s:
        return s.scalar(select(Job.kind).where(Job.id == job_id)) or ""


def _job_of_chunk(factory: store.Factory, chunk_id: int) -> str:
    from smartalbum.library.schema import JobChunk

    with factory() as s:
        return s.scalar(select(JobChunk.job_id).where(JobChunk.id == chunk_id)) or ""


def _prune_processed(settings: Settings, older_than_s: float = 300.0) -> None:
    """The embedded broker keeps consumed messages (see jobs.app); delete old ones."""
    from smartalbum.jobs.app import is_embedded

    if not is_embedded(settings):
        return
    folder = Path(settings.data_dir).expanduser() / "broker" / "processed"
    limit = time.time() - older_than_s
    for entry in folder.glob("*.msg"):
        try:
            if entry.stat().st_mtime < limit:
                entry.unlink()
        except OSError:
            pass


def start_heartbeat(
    app: Celery, stop: threading.Event, name: str, concurrency: int
) -> threading.Thread:
    """A daemon thread that says every ``store.WORKER_BEAT_S`` that this worker lives (what
    planning counts to size chunks), and forgets it when ``stop`` is set."""
    settings: Settings = app.conf.smartalbum_settings

    def loop() -> None:
        factory = catalog(settings)
        while True:
            try:
                store.worker_heartbeat(factory, name, concurrency)
            except Exception:  # noqa: BLE001 - a missed beat must never kill the worker
                log.warning("worker heartbeat failed", exc_info=True)
            if stop.wait(store.WORKER_BEAT_S):
                break
        try:
            store.worker_gone(factory, name)
        except Exception:  # noqa: BLE001 - it ages out anyway
            log.debug("could not unregister worker %s", name, exc_info=True)

    thread = threading.Thread(target=loop, name="smartalbum-heartbeat", daemon=True)
    thread.start()
    return thread


def start_sweeper(app: Celery, stop: threading.Event) -> threading.Thread:
    """A daemon thread that sweeps every half ``stale_after_s`` until ``stop`` is set."""
    settings: Settings = app.conf.smartalbum_settings
    interval = max(0.5, settings.jobs.stale_after_s / 2)

    def loop() -> None:
        while not stop.wait(interval):
            try:
                n = sweep(app)
                if n:
                    log.warning("re-sent %d stalled chunk(s)", n)
            except Exception:  # noqa: BLE001 - a sweep must never kill the worker
                log.exception("sweep failed")

    thread = threading.Thread(target=loop, name="smartalbum-sweeper", daemon=True)
    thread.start()
    return thread


__all__ = ["index_chunk", "plan", "sweep", "start_sweeper", "JOB_FAILED"]
