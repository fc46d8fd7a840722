"""Incremental indexing: bring the catalog in line with the photos under some folders.

A run has three phases:

1. **Scan** (no file is opened): every photo path under the roots is ``stat``-ed and
   compared with the catalog's file rows. A path whose size and mtime (ns) are unchanged,
   and whose photo already has an embedding for the running backbone, is *unchanged* and
   never read. Catalogued paths under the roots that are gone are marked ``missing`` (the
   photo and everything computed for it stay). Known-bad files that have not changed are
   skipped too (their error stays listed).
2. **Index** the rest (new, changed, or lacking this backbone's embedding) in a pipeline
   like ``model.pipeline.classify_files``: a bounded window of jobs in a thread pool reads
   each file *once*, hashes it, and — unless a photo with that SHA-256 already has this
   backbone's embedding (a moved/renamed file, a second copy) — decodes it once and
   measures everything from that one decoded image: quality, perceptual hashes, EXIF. The
   main thread runs the backbone on each batch and writes the batch in **one transaction**:
   photo, file, embedding and predictions of a photo are committed together or not at all,
   so a run killed at any moment (SIGKILL included) leaves no half-written photo, loses at
   most the batch in flight, and the next run picks up where it stopped. Inserts are
   ``ON CONFLICT DO NOTHING`` on the unique keys, so nothing is ever duplicated.
3. **Predict** from stored embeddings the heads whose current version has no prediction
   yet (a new or re-fitted head costs no decoding and no backbone run).
4. **After-index hooks** (``library.hooks``): the features' work on what the run indexed
   (tags from the new embeddings, a face scan), registered by the features themselves.

A background index job runs the same ``Indexer`` over each chunk of its files, with
``scope`` (the chunk's files: the catalog-wide steps look at those photos only) and
``job_id`` (no ``index_runs`` row: the job row records the run).

A path whose content now matches a photo whose own file has disappeared is a *move*: the
file row keeps its id and takes the new path. A path with new content in an existing row
is *changed*: it points to the new photo, and the old photo keeps its data.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.config import Settings, get_settings
from smartalbum.imaging import PhotoError, load_photo
from smartalbum.imaging.decode import Photo as DecodedPhoto
from smartalbum.imaging.files import find_photos
from smartalbum.imaging.hashing import dhash, phash
from smartalbum.imaging.quality import QualityReport, assess
from smartalbum.imaging.reading import read_photo_file
from smartalbum.library.catalog import (
    CHUNK,
    ModelKey,
    load_embeddings,
    model_key,
    vector_to_bytes,
)
from smartalbum.library.db import insert_ignore, insert_ignore_many, session_scope
from smartalbum.library.hooks import IndexedPhotos, run_after_index
from smartalbum.library.metadata import PhotoMetadata, metadata_from_bytes
from smartalbum.library.paths import absolute_root, under_roots
from smartalbum.library.places import Place, reverse_geocode_many
from smartalbum.library.schema import (
    FILE_MISSING,
    FILE_PRESENT,
    Embedding,
    File,
    IndexErrorRecord,
    IndexRun,
    Photo,
    Prediction,
    to_signed64,
    utcnow,
)
from smartalbum.model.engine import Engine
from smartalbum.model.pipeline import working_side

#: Smallest decode size: quality and perceptual hashes need some pixels even when the
#: network's input is tiny; 448 px keeps 12 MP JPEGs on libjpeg's fastest 1/8 scale.
MIN_DECODE_SIDE = 448

#: Most embeddings a run keeps in memory for the after-index hooks (8,192 x 1,280
#: float32: 40 MB); a larger run hands them only the photo ids (hooks read the catalog).
KEEP_EMBEDDINGS = 8192

NEW, CHANGED, REFRESH = "new", "changed", "refresh"
PREDICTION_KEY = ["photo_id", "head", "head_version", "backbone_version"]


@dataclass
class IndexSummary:
    """What a run did. ``errors`` counts files that failed in this run; ``known_errors``
    unchanged files that had already failed (both are listed by ``smartalbum errors``)."""

    scanned: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    unchanged: int = 0
    missing: int = 0
    errors: int = 0
    known_errors: int = 0
    refreshed: int = 0  # unchanged files embedded again for a new backbone version
    embedded: int = 0  # photos run through the backbone
    reused: int = 0  # indexed files whose photo already had this backbone's embedding
    predicted: int = 0  # head predictions computed from stored embeddings
    to_index: int = 0
    seconds: float = 0.0
    #: one-line messages of the after-index hooks for the person (not part of to_dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["notes"]
        return out

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        parts = [
            f"{self.new} new",
            f"{self.changed} changed",
            f"{self.moved} moved",
            f"{self.unchanged} unchanged",
            f"{self.missing} missing",
            f"{self.errors} errors",
        ]
        if self.known_errors:
            parts.append(f"{self.known_errors} known errors")
        if self.refreshed:
            parts.append(f"{self.refreshed} re-embedded")
        text = f"{self.scanned} files scanned in {self.seconds:.1f} s — " + ", ".join(parts)
        if self.to_index and self.seconds > 0:
            rate = self.to_index / self.seconds
            text += f" ({self.embedded} through the model; {rate:.1f} files/s)"
        return text


@dataclass
class _Work:
    path: str
    kind: str  # NEW, CHANGED or REFRESH


@dataclass
class _Prepared:
    """One file after its thread-pool job: an error, a known photo, or a decoded one."""

    work: _Work
    size: int = 0
    mtime_ns: int = 0
    sha256: str | None = None
    error: PhotoError | None = None
    photo: DecodedPhoto | None = None
    quality: QualityReport | None = None
    phash: int | None = None
    dhash: int | None = None
    meta: PhotoMetadata | None = None
    place: Place | None = None


@dataclass
class _Plan:
    work: list[_Work] = field(default_factory=list)
    seen_ids: list[int] = field(default_factory=list)  # unchanged file rows (last_seen)
    missing_ids: list[int] = field(default_factory=list)
    stale_error_paths: list[str] = field(default_factory=list)


ProgressCallback = Callable[[int, IndexSummary], None]


def _read_file(path: str) -> tuple[bytes, int, int]:
    """A file's bytes with the size and mtime of exactly what was read (fstat on the fd);
    regular files only, at most ``imaging.max_file_mb`` (typed FileReadError otherwise)."""
    data, st = read_photo_file(path)
    return data, len(data), st.st_mtime_ns


class Indexer:
    """Indexes folders into the catalog with one model bundle (thread-unsafe; one per run).

    ``scope``: the files this indexer is for (a job's chunk): the photos preloaded as
    already embedded, the missing predictions and the after-index work are limited to
    those files' photos (None: the whole catalog, what ``smartalbum index`` does; a
    chunk of 32 files must not pay for a catalog-wide query, and a copy of a photo
    outside the scope is then decoded again, never stored twice). ``job_id``: the
    background index job the run belongs to: no ``index_runs`` row (the job row records
    the run), and the after-index hooks see a chunk (``final=False``; the job's end runs
    the final ones). ``settings`` go to the hooks (default: the process settings).
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        engine: Engine,
        *,
        heads: Sequence[str] | None = None,
        workers: int = 2,
        batch_size: int | None = None,
        scope: Sequence[str] | None = None,
        job_id: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.factory = factory
        self.engine = engine
        names = list(heads) if heads else list(engine.bundle.heads)
        self.keys: list[ModelKey] = [model_key(engine, name) for name in names]
        self.backbone_version = self.keys[0].backbone_version
        self.workers = max(1, workers)
        self.batch_size = max(1, batch_size or engine.batch_size)
        self.side = max(working_side(engine), MIN_DECODE_SIDE)
        self.scope = list(scope) if scope is not None else None
        self.job_id = job_id
        self.settings = settings
        # sha256 -> photo id of the photos that already have this backbone's embedding
        self._known: dict[str, int] = {}
        self._missing_now: set[int] = set()  # file rows this run's scan marked missing
        self._moved_back = 0
        # The photos this run embedded (for the after-index hooks), and their vectors
        # while there are at most KEEP_EMBEDDINGS of them (None beyond).
        self._embedded_ids: dict[int, None] = {}  # an ordered set
        self._embedded: dict[int, np.ndarray] | None = {}

    # ------------------------------------------------------------------ public

    def run(
        self,
        roots: Iterable[str | os.PathLike[str]],
        *,
        on_plan: Callable[[IndexSummary], None] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> IndexSummary:
        """Index every photo under ``roots`` (folders, recursively, or single files).

        ``on_plan(summary)`` is called once the scan is done (``summary.to_index`` is the
        number of files to read); ``on_progress(n, summary)`` after each committed batch
        of ``n`` files. Raises FileNotFoundError for a root that does not exist.
        """
        start = time.perf_counter()
        root_paths = [absolute_root(r) for r in roots]
        summary = IndexSummary()
        self._embedded_ids, self._embedded = {}, {}
        run_id = self._start_run(root_paths)
        try:
            plan = self._scan(root_paths, summary)
            self._apply_scan(plan, summary)
            if on_plan is not None:
                on_plan(summary)
            if plan.work:
                self._load_known()
                self._index(plan.work, summary, on_progress)
            self._predict_missing(summary)
            summary.notes = self._after_index(root_paths)
        except BaseException:
            summary.seconds = time.perf_counter() - start
            self._finish_run(run_id, summary, status="interrupted")
            raise
        summary.seconds = time.perf_counter() - start
        self._finish_run(run_id, summary)
        return summary

    # ------------------------------------------------------------------ runs

    def _start_run(self, roots: list[Path]) -> int:
        """The run's ``index_runs`` row (0: none, for a job's chunk)."""
        if self.job_id is not None:
            return 0
        key = self.keys[0]
        with session_scope(self.factory) as s:
            run = IndexRun(
                roots=[str(r) for r in roots],
                backbone_version=key.backbone_version,
                head=",".join(k.head for k in self.keys),
                head_version=",".join(k.head_version for k in self.keys),
                status="running",
                counts={},
            )
            s.add(run)
            s.flush()
            return run.id

    def _finish_run(self, run_id: int, summary: IndexSummary, status: str = "done") -> None:
        if not run_id:
            return
        try:
            with session_scope(self.factory) as s:
                s.execute(
                    update(IndexRun)
                    .where(IndexRun.id == run_id)
                    .values(status=status, counts=summary.to_dict(), finished_at=utcnow())
                )
        except Exception:  # noqa: BLE001 - bookkeeping must not hide the original error
            if status == "done":
                raise

    # ------------------------------------------------------------------ scan

    def _scan(self, roots: list[Path], summary: IndexSummary) -> _Plan:
        files = find_photos(roots, recursive=True)
        on_disk: dict[str, tuple[int, int]] = {}
        for p in files:
            try:
                st = os.stat(p)
            except OSError:
                continue  # vanished between the walk and now: it is simply not there
            on_disk[str(p)] = (st.st_size, st.st_mtime_ns)
        summary.scanned = len(on_disk)

        plan = _Plan()
        with self.factory() as s:
            under = under_roots(File.path, roots)
            rows = s.execute(
                select(File.id, File.path, File.size, File.mtime_ns, File.status, Embedding.id)
                .outerjoin(
                    Embedding,
                    and_(
                        Embedding.photo_id == File.photo_id,
                        Embedding.backbone_version == self.backbone_version,
                    ),
                )
                .where(under)
            ).all()
            errors = s.execute(
                select(
                    IndexErrorRecord.path, IndexErrorRecord.size, IndexErrorRecord.mtime_ns
                ).where(under_roots(IndexErrorRecord.path, roots))
            ).all()

        catalogued = {row[1]: (row[0], row[2], row[3], row[4], row[5]) for row in rows}
        bad = {path: (size, mtime) for path, size, mtime in errors}
        for path, (fid, _size, _mtime, status, _emb) in catalogued.items():
            # Not found by the walk and really gone (a file in a hidden folder that was
            # indexed by name is not found by the walk, but it is still there).
            if path not in on_disk and status == FILE_PRESENT and not os.path.exists(path):
                plan.missing_ids.append(fid)
        plan.stale_error_paths = [p for p in bad if p not in on_disk]
        summary.missing = len(plan.missing_ids)
        self._missing_now = set(plan.missing_ids)

        for path, stat in on_disk.items():
            row = catalogued.get(path)
            if row is None:
                if bad.get(path) == stat:
                    summary.known_errors += 1
                else:
                    plan.work.append(_Work(path, NEW))
                continue
            fid, size, mtime, _status, emb = row
            if (size, mtime) != stat:
                plan.work.append(_Work(path, CHANGED))
            elif emb is None:
                plan.work.append(_Work(path, REFRESH))
            else:
                plan.seen_ids.append(fid)
        summary.unchanged = len(plan.seen_ids)
        summary.to_index = len(plan.work)
        return plan

    def _apply_scan(self, plan: _Plan, summary: IndexSummary) -> None:
        """Mark vanished files missing, note unchanged ones as seen, drop stale errors."""
        now = utcnow()
        with session_scope(self.factory) as s:
            for chunk in _chunks(plan.missing_ids):
                s.execute(update(File).where(File.id.in_(chunk)).values(status=FILE_MISSING))
            for chunk in _chunks(plan.seen_ids):
                s.execute(
                    update(File)
                    .where(File.id.in_(chunk))
                    .values(status=FILE_PRESENT, last_seen=now)
                )
            for chunk in _chunks(plan.stale_error_paths):
                s.execute(delete(IndexErrorRecord).where(IndexErrorRecord.path.in_(chunk)))

    def _load_known(self) -> None:
        """The photos (of the scope's files) that already have this backbone's embedding."""
        query = select(Photo.sha256, Photo.id).join(
            Embedding,
            and_(
                Embedding.photo_id == Photo.id,
                Embedding.backbone_version == self.backbone_version,
            ),
        )
        if self.scope is not None:
            query = query.join(File, File.photo_id == Photo.id).where(File.path.in_(self.scope))
        with self.factory() as s:
            self._known = {sha: pid for sha, pid in s.execute(query)}

    # ------------------------------------------------------------------ index

    def _index(
        self, work: list[_Work], summary: IndexSummary, on_progress: ProgressCallback | None
    ) -> None:
        window = max(self.batch_size * 2, self.workers * 4)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="index") as pool:
            pending: deque[Future[_Prepared]] = deque()
            batch: list[_Prepared] = []
            it = iter(work)
            while True:
                while len(pending) < window:
                    nxt = next(it, None)
                    if nxt is None:
                        break
                    pending.append(pool.submit(self._prepare, nxt))
                if not pending:
                    break
                batch.append(pending.popleft().result())
                if len(batch) >= self.batch_size:
                    self._commit(batch, summary)
                    if on_progress is not None:
                        on_progress(len(batch), summary)
                    batch = []
            if batch:
                self._commit(batch, summary)
                if on_progress is not None:
                    on_progress(len(batch), summary)

    def _prepare(self, work: _Work) -> _Prepared:
        """Thread-pool job: read once, hash, and (unless known) decode once and measure."""
        try:
            data, size, mtime_ns = _read_file(work.path)
        except PhotoError as exc:
            return _Prepared(work, error=exc)
        out = _Prepared(work, size=size, mtime_ns=mtime_ns)
        if data:
            out.sha256 = hashlib.sha256(data).hexdigest()
            if out.sha256 in self._known:
                return out
        try:
            # digest: the hash computed above (SHA-256 of 4 MB is ~8 ms: never twice).
            photo = load_photo(data, max_side=self.side, name=work.path, digest=out.sha256 or True)
        except PhotoError as exc:
            out.error = exc
            return out
        out.photo = photo
        out.quality = assess(photo.image)
        out.phash = phash(photo.image)
        out.dhash = dhash(photo.image)
        out.meta = metadata_from_bytes(data, mtime_ns=mtime_ns)
        return out

    def _commit(self, batch: list[_Prepared], summary: IndexSummary) -> None:
        """Model work for the batch, then one transaction for all its rows."""
        decoded = [p for p in batch if p.photo is not None and p.sha256 not in self._known]
        embeddings = (
            self.engine.embed([p.photo.image for p in decoded])  # type: ignore[union-attr]
            if decoded
            else np.zeros((0, 0), dtype=np.float32)
        )
        predictions = {
            key: self.engine.classify_embeddings(embeddings, key.head) if decoded else []
            for key in self.keys
        }
        with_gps = [p for p in decoded if p.meta is not None and p.meta.gps is not None]
        if with_gps:
            places = reverse_geocode_many([p.meta.gps for p in with_gps])  # type: ignore[union-attr,misc]
            for p, place in zip(with_gps, places, strict=True):
                p.place = place

        counts: dict[str, int] = {}
        self._moved_back = 0
        now = utcnow()
        with session_scope(self.factory) as s:
            created = self._write_photos(s, decoded, embeddings, predictions, now)
            ok = [p for p in batch if p.error is None]
            if ok:
                paths = [p.work.path for p in ok]
                s.execute(delete(IndexErrorRecord).where(IndexErrorRecord.path.in_(paths)))
                rows = {f.path: f for f in s.scalars(select(File).where(File.path.in_(paths)))}
                photo_ids = {
                    p.work.path: created.get(p.sha256) or self._known[p.sha256] for p in ok
                }  # type: ignore[arg-type,index]
                wanted = {pid for path, pid in photo_ids.items() if path not in rows}
                copies: dict[int, list[File]] = {pid: [] for pid in wanted}
                if wanted:
                    for f in s.scalars(
                        select(File).where(File.photo_id.in_(wanted)).order_by(File.id)
                    ):
                        copies[f.photo_id].append(f)
                new_rows: list[dict[str, Any]] = []
                for item in ok:
                    photo_id = photo_ids[item.work.path]
                    _bump(counts, "embedded" if item.sha256 in created else "reused")
                    _bump(counts, self._link(item, photo_id, rows, copies, new_rows, now))
                if new_rows:
                    insert_ignore_many(s, File, new_rows, ["path"])
            for item in batch:
                if item.error is not None:
                    self._write_error(s, item)
                    _bump(counts, "errors")
        self._known.update(created)
        self._keep_embedded(decoded, embeddings, created)
        counts["missing"] = -self._moved_back
        self._moved_back = 0
        for name, n in counts.items():
            setattr(summary, name, getattr(summary, name) + n)

    # ------------------------------------------------------------------ rows

    def _write_photos(
        self,
        s: Session,
        decoded: list[_Prepared],
        embeddings: np.ndarray,
        predictions: dict[ModelKey, list[Any]],
        now: datetime,
    ) -> dict[str, int]:
        """Photo, embedding and prediction rows of the decoded photos: sha256 -> photo id.

        Statements are executemany over the whole batch (one compiled INSERT per table),
        which is what keeps tens of thousands of small photos fast.
        """
        if not decoded:
            return {}
        insert_ignore_many(s, Photo, [_photo_values(p, now) for p in decoded], ["sha256"])
        shas = list({p.sha256 for p in decoded})
        ids: dict[str, int] = {
            sha: pid
            for sha, pid in s.execute(select(Photo.sha256, Photo.id).where(Photo.sha256.in_(shas)))
        }
        emb_rows, seen = [], set()
        for p, vector in zip(decoded, embeddings, strict=True):
            if p.sha256 in seen:  # two copies of a new photo in one batch
                continue
            seen.add(p.sha256)
            emb_rows.append(
                {
                    "photo_id": ids[p.sha256],  # type: ignore[index]
                    "backbone_version": self.backbone_version,
                    "dim": int(vector.shape[0]),
                    "vector": vector_to_bytes(vector),
                    "created_at": now,
                }
            )
        insert_ignore_many(s, Embedding, emb_rows, ["photo_id", "backbone_version"])
        pred_rows = []
        for key, preds in predictions.items():
            seen = set()
            for p, pred in zip(decoded, preds, strict=True):
                if p.sha256 not in seen:
                    seen.add(p.sha256)
                    pred_rows.append(prediction_values(ids[p.sha256], key, pred, now))  # type: ignore[index]
        insert_ignore_many(s, Prediction, pred_rows, PREDICTION_KEY)
        return ids

    def _link(
        self,
        item: _Prepared,
        photo_id: int,
        rows: dict[str, File],
        copies: dict[int, list[File]],
        new_rows: list[dict[str, Any]],
        now: datetime,
    ) -> str:
        """Point the item's path at ``photo_id``; returns what happened (a summary field).

        ``rows``: the batch's existing file rows by path; ``copies``: the other file rows
        of the photos that get a new path (to find a move); ``new_rows`` collects inserts.
        """
        path = item.work.path
        row = rows.get(path)
        if row is not None:
            row.photo_id = photo_id
            row.size, row.mtime_ns = item.size, item.mtime_ns
            row.status, row.last_seen = FILE_PRESENT, now
            return "refreshed" if item.work.kind == REFRESH else "changed"
        others = copies.setdefault(photo_id, [])
        gone = next(
            (f for f in others if f.status == FILE_MISSING or not os.path.exists(f.path)), None
        )
        if gone is not None:  # the same bytes left another path: a move or a rename
            if gone.id in self._missing_now:
                self._moved_back += 1  # counted missing by the scan; it is a move instead
            gone.path = path
            gone.size, gone.mtime_ns = item.size, item.mtime_ns
            gone.status, gone.last_seen = FILE_PRESENT, now
            rows[path] = gone
            return "moved"
        new_rows.append(
            {
                "photo_id": photo_id,
                "path": path,
                "size": item.size,
                "mtime_ns": item.mtime_ns,
                "status": FILE_PRESENT,
                "first_seen": now,
                "last_seen": now,
            }
        )
        # A second copy in this batch must see this one as present (not a move target).
        others.append(File(photo_id=photo_id, path=path, status=FILE_PRESENT))
        return "new"

    def _write_error(self, s: Session, item: _Prepared) -> None:
        err = item.error
        assert err is not None
        path = item.work.path
        values = {
            "code": err.code,
            "message": str(err),
            "size": item.size or None,
            "mtime_ns": item.mtime_ns or None,
            "created_at": utcnow(),
        }
        if item.size == 0 and item.mtime_ns == 0:  # unreadable: remember the scan's stat
            try:
                st = os.stat(path)
                values["size"], values["mtime_ns"] = st.st_size, st.st_mtime_ns
            except OSError:
                pass
        if not insert_ignore(s, IndexErrorRecord, {"path": path, **values}, ["path"]):
            s.execute(
                update(IndexErrorRecord).where(IndexErrorRecord.path == path).values(**values)
            )
        # The bytes that path held before are gone: its photo keeps its data, not the path.
        s.execute(update(File).where(File.path == path).values(status=FILE_MISSING))

    # ------------------------------------------------------------------ after index

    def _keep_embedded(
        self, decoded: list[_Prepared], embeddings: np.ndarray, created: dict[str, int]
    ) -> None:
        """Note the photos this batch embedded (and their vectors, while few enough)."""
        for p, vector in zip(decoded, embeddings, strict=True):
            photo_id = created[p.sha256]  # type: ignore[index]
            if photo_id in self._embedded_ids:
                continue  # two copies of a new photo, embedded in one batch or two
            self._embedded_ids[photo_id] = None
            if self._embedded is not None:
                self._embedded[photo_id] = vector
        if self._embedded is not None and len(self._embedded) > KEEP_EMBEDDINGS:
            self._embedded = None

    def _after_index(self, roots: list[Path]) -> list[str]:
        """Run the registered after-index hooks (library.hooks); returns their notes."""
        ids = tuple(self._embedded_ids)
        vectors = None
        if self._embedded is not None and ids:
            vectors = np.stack([self._embedded[i] for i in ids])
        event = IndexedPhotos(
            factory=self.factory,
            settings=self.settings or get_settings(),
            roots=tuple(str(r) for r in roots),
            final=self.job_id is None,
            engine=self.engine,
            backbone_version=self.backbone_version,
            photo_ids=ids,
            embeddings=vectors,
            scope=tuple(self.scope) if self.scope is not None else None,
            job_id=self.job_id,
        )
        return run_after_index(event)

    # ------------------------------------------------------------------ heads

    def _predict_missing(self, summary: IndexSummary) -> None:
        """Predictions for every stored embedding of this backbone (of the scope's
        photos) that lacks one."""
        for key in self.keys:
            summary.predicted += predict_missing(
                self.factory, self.engine, key.head, paths=self.scope
            )


# --------------------------------------------------------------------------- helpers


def _photo_values(item: _Prepared, now: datetime) -> dict[str, Any]:
    """The photos row of a decoded file."""
    photo, q, meta, place = item.photo, item.quality, item.meta, item.place
    assert photo is not None and q is not None and meta is not None
    facts = photo.facts
    return {
        "sha256": facts.sha256,
        "size": facts.size_bytes,
        "format": facts.format,
        "width": facts.width,
        "height": facts.height,
        "taken_at": meta.taken_at,
        "taken_at_source": meta.taken_at_source,
        "tz_offset_min": meta.tz_offset_min,
        "camera_make": _clip(meta.camera_make, 128),
        "camera_model": _clip(meta.camera_model, 128),
        "latitude": meta.latitude,
        "longitude": meta.longitude,
        "altitude": meta.altitude,
        "city": _clip(place.city, 200) if place else None,
        "region": _clip(place.region, 200) if place else None,
        "country": place.country[:2] if place else None,
        "blur": q.blur,
        "exposure_mean": q.exposure.mean,
        "exposure_dark": q.exposure.dark_clipped,
        "exposure_bright": q.exposure.bright_clipped,
        "exposure_verdict": q.exposure.verdict,
        "phash": to_signed64(item.phash) if item.phash is not None else None,
        "dhash": to_signed64(item.dhash) if item.dhash is not None else None,
        "created_at": now,
        "updated_at": now,
    }


def prediction_values(photo_id: int, key: ModelKey, pred: Any, now: datetime) -> dict[str, Any]:
    """The ``predictions`` row of one head's prediction for a photo."""
    return {
        "photo_id": photo_id,
        "head": key.head,
        "head_version": key.head_version,
        "backbone_version": key.backbone_version,
        "label": pred.label,
        "confidence": float(pred.confidence),
        "uncertain": bool(pred.uncertain),
        "probabilities": {k: float(v) for k, v in pred.probabilities.items()},
        "created_at": now,
    }


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _bump(counts: dict[str, int], name: str) -> None:
    counts[name] = counts.get(name, 0) + 1


def _clip(text: str | None, n: int) -> str | None:
    return text[:n] if text else text


def predict_missing(
    factory: sessionmaker[Session],
    engine: Engine,
    head: str | None = None,
    *,
    paths: Sequence[str] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Predictions of ``head`` for every stored embedding of this backbone that lacks one,
    from the embeddings alone (no decode, no backbone run); returns how many were written.
    What a new or retrained head needs to re-sort the whole catalog. ``paths``: only
    the photos of those files (an index job's chunk)."""
    if paths is not None and not paths:
        return 0
    key = model_key(engine, head)
    missing = ~exists().where(
        and_(
            Prediction.photo_id == Embedding.photo_id,
            Prediction.head == key.head,
            Prediction.head_version == key.head_version,
            Prediction.backbone_version == key.backbone_version,
        )
    )
    mine = Embedding.backbone_version == key.backbone_version
    if paths is not None:
        mine = and_(
            mine, Embedding.photo_id.in_(select(File.photo_id).where(File.path.in_(list(paths))))
        )
    if on_total is not None:
        with factory() as s:
            on_total(
                int(s.scalar(select(func.count()).select_from(Embedding).where(mine, missing)))
            )
    done = 0
    while True:
        with session_scope(factory) as s:
            ids = list(
                s.scalars(
                    select(Embedding.photo_id)
                    .where(mine, missing)
                    .order_by(Embedding.photo_id)
                    .limit(CHUNK)
                )
            )
            if not ids:
                break
            vectors = load_embeddings(s, ids, key.backbone_version)
            order = [i for i in ids if i in vectors]
            preds = engine.classify_embeddings(np.stack([vectors[i] for i in order]), key.head)
            now = utcnow()
            rows = [
                prediction_values(p, key, pred, now) for p, pred in zip(order, preds, strict=True)
            ]
            insert_ignore_many(s, Prediction, rows, PREDICTION_KEY)
        done += len(order)
        if on_progress is not None:
            on_progress(len(order))
    return done
