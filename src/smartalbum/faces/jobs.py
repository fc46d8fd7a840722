"""Job kinds ``faces`` (scan photos for faces) and ``faces_recluster`` (re-group every face).

Registered with :func:`smartalbum.jobs.kinds.job_kind` (this module is listed in
``KIND_MODULES``), so the API, ``smartalbum jobs`` and the jobs page show their progress.

Idempotent: a photo is scanned once per detector version (its ``face_scans`` row is written
in the same transaction as its faces), so a job re-sent after its worker died resumes with
the photos not yet committed; progress counts already-scanned photos as done. Re-clustering
is one transaction: killed, it changed nothing; run twice, it finds the same people.

``faces`` params: ``paths`` (folders or files already in the catalog; default every
photo), ``rescan`` (scan again photos scanned by an older detector version).
"""

from __future__ import annotations

from typing import Any

from smartalbum.faces.errors import FacesDisabledError
from smartalbum.faces.people import recluster
from smartalbum.faces.service import FaceScanner, pending_photos, photo_ids_for_paths
from smartalbum.jobs.kinds import JobContext, job_kind
from smartalbum.library.schema_faces import FaceScan

SCAN_KIND = "faces"
RECLUSTER_KIND = "faces_recluster"


def _check_params(params: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"unknown parameter(s): {', '.join(sorted(unknown))}")


@job_kind(SCAN_KIND)
def run_scan(ctx: JobContext) -> dict[str, Any]:
    """Scan the photos not scanned yet (all, or under ``paths``) with progress per photo."""
    from sqlalchemy import func, select

    _check_params(ctx.params, {"paths", "rescan"})
    paths = ctx.params.get("paths") or []
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        raise ValueError("'paths' must be a list of server-side paths")
    rescan = bool(ctx.params.get("rescan"))
    try:
        scanner = FaceScanner(ctx.factory, ctx.settings.faces)
    except FacesDisabledError as exc:
        raise ValueError(str(exc)) from exc
    with ctx.factory() as s:
        todo = pending_photos(s, rescan=rescan)
        if paths:
            wanted = set(photo_ids_for_paths(s, paths))
            todo = [p for p in todo if p in wanted]
    ctx.total(len(todo))
    summary = scanner.scan(todo, rescan=rescan, progress=ctx.progress)
    for item, code, message in summary.errors[:1000]:
        ctx.item_error(item, code, message)
    with ctx.factory() as s:
        scanned = int(s.scalar(select(func.count()).select_from(FaceScan)) or 0)
    return {**summary.to_dict(), "scanned_total": scanned}


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
