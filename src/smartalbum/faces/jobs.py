"""Job kinds ``faces`` (scan photos for faces) and ``faces_recluster`` (re-group every face).

A scan is the heaviest work of the catalog (≈ 1 s per 12 MP photo in dlib), so it is a
*chunked* kind (:func:`smartalbum.jobs.kinds.chunked_kind`): the photos to scan are listed
once when the job is planned (its total), cut into chunks that every worker takes, and
each chunk stores the faces it finds as *pending*. One final step, after every chunk,
assigns the pending faces to people in one process (FaceScanner.assign_pending): workers
assigning at once would each miss the faces the others just found.

Idempotent: a photo is scanned once per detector version (its ``face_scans`` row is written
in the same transaction as its faces), so a chunk re-sent after its worker died skips the
photos already committed and counts them as done. Assigning pending faces is one
transaction per photo and leaves none pending, so a re-sent final step finishes the rest.
Re-clustering stays one task: it is one transaction over descriptors already stored
(seconds for tens of thousands of faces, no image decoded); killed, it changed nothing;
run twice, it finds the same people.

``faces`` params: ``paths`` (folders or files already in the catalog; default every
photo), ``rescan`` (scan again photos scanned by an older detector version).
"""

from __future__ import annotations

from typing import Any

from smartalbum.faces.errors import FacesDisabledError
from smartalbum.faces.people import recluster
from smartalbum.faces.service import (
    FaceScanner,
    pending_photos,
    photo_ids_for_paths,
    thumbnail_dir,
)
from smartalbum.jobs.kinds import ChunkContext, JobContext, chunked_kind, job_kind
from smartalbum.library.schema_faces import Face, FaceScan

SCAN_KIND = "faces"
RECLUSTER_KIND = "faces_recluster"
#: Photos per chunk: at ≈ 1 s per photo a chunk of 1 costs no noticeable overhead, and
#: more than 16 (≈ 16 s) would make a killed worker's chunk, done again, cost too much.
SMALLEST_CHUNK, LARGEST_CHUNK = 1, 16


def _check_params(params: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"unknown parameter(s): {', '.join(sorted(unknown))}")


def _scanner(ctx: JobContext | ChunkContext) -> FaceScanner:
    try:
        return FaceScanner(
            ctx.factory, ctx.settings.faces, thumbnails=thumbnail_dir(ctx.settings.data_dir)
        )
    except FacesDisabledError as exc:
        raise ValueError(str(exc)) from exc


def plan_scan(ctx: JobContext) -> list[str]:
    """The photos to scan (ids, in id order): not scanned yet, all or under ``paths``."""
    _check_params(ctx.params, {"paths", "rescan"})
    paths = ctx.params.get("paths") or []
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        raise ValueError("'paths' must be a list of server-side paths")
    _scanner(ctx)  # faces switched off: the job fails at once with the reason
    with ctx.factory() as s:
        todo = pending_photos(s, rescan=bool(ctx.params.get("rescan")))
        if paths:
            wanted = set(photo_ids_for_paths(s, paths))
            todo = [p for p in todo if p in wanted]
    return [str(p) for p in todo]


def assign_scanned(ctx: JobContext) -> dict[str, Any]:
    """The final step: assign the pending faces to people, then the job's counts."""
    from sqlalchemy import func, select

    from smartalbum.jobs import store as job_store

    summary = _scanner(ctx).assign_pending()
    ids = [int(i) for i in job_store.job_items(ctx.factory, ctx.job_id)]
    job = job_store.get_job(ctx.factory, ctx.job_id)
    with ctx.factory() as s:
        faces = sum(
            int(
                s.scalar(
                    select(func.count())
                    .select_from(Face)
                    .where(Face.photo_id.in_(ids[start : start + 500]))
                )
                or 0
            )
            for start in range(0, len(ids), 500)
        )
        scanned = int(s.scalar(select(func.count()).select_from(FaceScan)) or 0)
    return {
        "photos": len(ids),
        "faces": faces,
        "assigned": summary.assigned,
        "new_people": summary.new_people,
        "errors": job.errors if job is not None else 0,
        "scanned_total": scanned,
    }


@chunked_kind(
    SCAN_KIND,
    plan=plan_scan,
    finish=assign_scanned,
    smallest=SMALLEST_CHUNK,
    largest=LARGEST_CHUNK,
)
def scan_chunk(ctx: ChunkContext) -> None:
    """Scan a chunk's photos (faces stored pending), progress per photo; photos a killed
    attempt committed are skipped and still count."""
    scanner = _scanner(ctx)
    rescan = bool(ctx.params.get("rescan"))
    summary = scanner.scan(
        [int(i) for i in ctx.items], rescan=rescan, progress=ctx.progress, assign=False
    )
    for item, code, message in summary.errors:
        ctx.item_error(item, code, message)


@job_kind(RECLUSTER_KIND)
def run_recluster(ctx: JobContext) -> dict[str, Any]:
    """Re-cluster every face the user did not place (the nightly-style tidy-up)."""
    _check_params(ctx.params, set())
    faces = ctx.settings.faces
    if not faces.enabled:
        raise ValueError("face processing is switched off (SMARTALBUM_FACES__ENABLED=false)")
    ctx.total(1)
    summary = recluster(ctx.factory, threshold=faces.match_threshold, min_cluster=faces.min_cluster)
    ctx.progress(1)
    return summary.to_dict()
