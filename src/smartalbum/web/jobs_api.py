"""Background jobs over HTTP: start an index of a server-side folder, list jobs, read one
job's progress, cancel it. The job rows in the catalog are the truth (smartalbum.jobs);
this blueprint only validates, submits and reads them.

Paths are *server-side* folders (the workers read them from the shared photo mount).
``SMARTALBUM_JOBS__ROOTS`` limits them to given folders; by default any folder the
server can read may be indexed (the app listens on 127.0.0.1 unless told otherwise).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, render_template

from smartalbum.jobs.errors import DiskFull, is_disk_full
from smartalbum.jobs.roots import within_roots
from smartalbum.web.api import file_parts, resolve_head
from smartalbum.web.contract import api, json_body, query_args, responses
from smartalbum.web.library_api import catalog_factory
from smartalbum.web.models.classify import UploadForm
from smartalbum.web.models.jobs import (
    MAX_PATHS,
    ORGANIZE_MODES,
    Job,
    JobList,
    JobListQuery,
    JobRequest,
)
from smartalbum.web.problems import ProblemError
from smartalbum.web.state import get_state

bp = Blueprint("jobs_api", __name__)

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
JOB_ERRORS = (400, 503)
QUEUED = (Job, "The job, queued (progress at Location)")


def _bad(name: str, detail: str, code: str | None = None) -> ProblemError:
    """A field the model cannot judge alone: ``bad_parameter``, or the check's own code
    (bad_path, path_not_allowed, unknown_kind, ...)."""
    if code is None:
        return ProblemError.bad_parameter(name, detail)
    return ProblemError(400, "Bad Request", detail, code=code)


#: Kernel and device file systems: their files stat as regular (or are devices) but are no
#: photos, and reading some never ends (/proc/self/mem, /dev/zero).
VIRTUAL_FILE_SYSTEMS = (Path("/proc"), Path("/sys"), Path("/dev"))


def _check_paths(raw: Any, allowed: list[Path]) -> list[str]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_PATHS:
        raise _bad("paths", f"'paths' must be a list of 1 to {MAX_PATHS} server folders or files")
    out = []
    for item in raw:
        if not isinstance(item, str) or not item or "\x00" in item or len(item) > 4096:
            raise _bad("paths", "every path must be a non-empty string")
        path = Path(item)
        if not path.is_absolute():
            raise _bad("paths", f"{item!r} is not an absolute path on the server", "bad_path")
        resolved = path.resolve()
        if allowed and not any(resolved.is_relative_to(r.resolve()) for r in allowed):
            detail = f"{item!r} is outside the folders this server indexes"
            raise _bad("paths", detail, "path_not_allowed")
        if not resolved.exists() or not os.access(resolved, os.R_OK):
            detail = f"{item!r} does not exist or cannot be read on the server"
            raise _bad("paths", detail, "bad_path")
        if any(resolved.is_relative_to(v) for v in VIRTUAL_FILE_SYSTEMS):
            # /proc/self/mem and /sys files stat as regular files: never photos
            detail = f"{item!r} is in {resolved.parts[1]!r}, the kernel's files, not photos"
            raise _bad("paths", detail, "not_a_regular_file")
        if not resolved.is_dir() and not resolved.is_file():  # /dev/zero, a FIFO, a socket
            detail = f"{item!r} is not a regular file or folder (only those are read)"
            raise _bad("paths", detail, "not_a_regular_file")
        out.append(str(resolved))
    return out


def _job_dict(job: Any) -> dict[str, Any]:
    """The job as the API shows it, stalled after this server's jobs.stall_after_s."""
    from smartalbum.jobs import store

    return store.job_to_dict(job, stall_after_s=get_state().settings.jobs.stall_after_s)


@bp.get("/jobs")
def page() -> str:
    """The jobs page: start an index of a server folder, watch every job's progress.

    Without SMARTALBUM_JOBS__ROOTS the page says that the API may read any path the
    server process can (issue 16: say it where people start jobs)."""
    return render_template("jobs.html", roots=[str(r) for r in get_state().settings.jobs.roots])


#: Fields each built-in kind takes in ``POST /api/v1/jobs`` (besides ``kind``).
KIND_FIELDS: dict[str, set[str]] = {
    "index": {"paths", "chunk_size"},
    "classify": {"paths", "head"},
    "rehead": {"head"},
    "organize": {"into", "mode", "layout", "xmp", "head", "photo_ids"},
}


@bp.post("/api/v1/jobs")
@api.validate(
    json=JobRequest,
    resp=responses({202: QUEUED}, (*JOB_ERRORS, 507)),
    operation_id="createJob",
)
def create_job() -> tuple[Response, int, dict[str, str]]:
    """Start a background job: index server-side folders

    Returns 202 at once; workers (`smartalbum worker`, or the one `smartalbum serve` runs)
    do the work in chunks. Poll the job for progress.
    """
    from smartalbum.jobs import store
    from smartalbum.jobs.submit import submit_index, submit_job

    body = json_body().model_dump(exclude_unset=True)
    kind = body["kind"]
    kinds = store.known_kinds()
    if kind not in kinds:
        raise _bad("kind", f"'kind' must be one of: {', '.join(kinds)}", "unknown_kind")
    allowed = KIND_FIELDS.get(kind)
    if allowed is not None:
        unknown = sorted(set(body) - allowed - {"kind"})
        if unknown:
            raise _bad(unknown[0], f"unknown field(s) for {kind!r}: {', '.join(unknown)}")
    settings = get_state().settings
    factory = catalog_factory()
    params = {k: v for k, v in body.items() if k != "kind"}
    if kind == "index":
        chunk_size = body.get("chunk_size")
        paths = _check_paths(body.get("paths"), list(settings.jobs.roots))
        job_id = submit_index(settings, factory, paths, chunk_size=chunk_size)
    else:
        if "head" in params:
            _check_head(params["head"])
        if kind == "classify":
            params["paths"] = _check_paths(body.get("paths"), list(settings.jobs.roots))
        elif kind == "organize":
            params = _check_organize(params)
        job_id = submit_job(settings, factory, kind, params)
    job = store.get_job(factory, job_id)
    return jsonify(_job_dict(job)), 202, {"Location": f"/api/v1/jobs/{job_id}"}


def _check_head(head: Any) -> None:
    heads = get_state().engine.bundle.heads
    if not isinstance(head, str) or head not in heads:
        raise _bad("head", f"'head' must be one of: {', '.join(heads)}", "unknown_head")


def _check_organize(params: dict[str, Any]) -> dict[str, Any]:
    """organize's options, checked here so a bad one is a 400, not a failed job."""
    from smartalbum.organize import OrganizeError, validate_layout

    into = params.get("into")
    if not isinstance(into, str) or not into or "\x00" in into or not Path(into).is_absolute():
        raise _bad("into", "'into' must be an absolute folder on the server", "bad_path")
    if not within_roots(into, get_state().settings.jobs.roots):  # symlinks resolved
        raise _bad(
            "into", f"{into!r} is outside the folders this server may use", "path_not_allowed"
        )
    mode = params.get("mode", "copy")
    if mode not in ORGANIZE_MODES:  # pragma: no cover - the model lists the modes
        raise _bad("mode", f"'mode' must be one of: {', '.join(ORGANIZE_MODES)}")
    layout = params.get("layout")
    if layout is not None:
        try:
            validate_layout(layout)
        except OrganizeError as exc:
            raise _bad("layout", str(exc), "bad_layout") from None
    return {**params, "into": str(Path(into).resolve()), "mode": mode}


@bp.post("/api/v1/jobs/classify")
@api.validate(
    form=UploadForm,
    resp=responses({202: QUEUED}, (*JOB_ERRORS, 413, 507)),
    skip_validation=True,  # multipart: parsed by web/multipart.py, checked by file_parts
    operation_id="createClassifyJob",
)
def upload_classify_job() -> tuple[Response, int, dict[str, str]]:
    """Queue uploaded photos as a classify job

    For large batches (the page does this for large drops): the photos wait in the
    catalog, where any worker on any machine reads them, and are deleted when the job
    ends; the results are in the finished job's `result.results` (one per photo, in order,
    named by the uploaded file's name).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from smartalbum.jobs import store
    from smartalbum.jobs.submit import submit_job
    from smartalbum.jobs.uploads import store_uploads

    state = get_state()
    files = file_parts(state)
    head = resolve_head(state)
    factory = catalog_factory()
    named = [(part.filename or f"photo {i + 1}", part) for i, part in enumerate(files)]

    def keep_uploads(job_id: str) -> None:
        try:
            store_uploads(factory, job_id, iter(named))
        except (OSError, SQLAlchemyError) as exc:
            if is_disk_full(exc):  # the catalog's disk: a 507
                raise DiskFull(f"cannot store the uploaded photos: {exc}") from exc
            raise
        finally:
            for _, part in named:
                part.close()

    # the names too: the jobs page says what a job works on from its params
    params = {"uploads": len(named), "names": [name[:255] for name, _ in named], "head": head}
    job_id = submit_job(state.settings, factory, "classify", params, prepare=keep_uploads)
    job = store.get_job(factory, job_id)
    return jsonify(_job_dict(job)), 202, {"Location": f"/api/v1/jobs/{job_id}"}


@bp.get("/api/v1/jobs")
@api.validate(
    query=JobListQuery,
    resp=responses({200: (JobList, "The jobs")}, JOB_ERRORS),
    operation_id="listJobs",
)
def list_jobs() -> Response:
    """Jobs, newest first, with their progress"""
    from smartalbum.jobs import store

    args: JobListQuery = query_args()
    jobs = store.list_jobs(catalog_factory(), limit=args.limit, status=args.status)
    return jsonify({"jobs": [_job_dict(j) for j in jobs]})


def _job_or_404(job_id: str) -> Any:
    from smartalbum.jobs import store

    job = store.get_job(catalog_factory(), job_id) if JOB_ID.match(job_id) else None
    if job is None:
        raise ProblemError(404, "Not Found", f"no job {job_id!r}", code="no_job")
    return job


@bp.get("/api/v1/jobs/<job_id>")
@api.validate(
    resp=responses({200: (Job, "The job")}, [404, 503]),
    operation_id="getJob",
)
def get_job(job_id: str) -> Response:
    """One job: status, done/total, rate, ETA, failed items"""
    from smartalbum.jobs import store

    job = _job_or_404(job_id)
    out = _job_dict(job)
    out["failed_items"] = [
        {"item": e.item, "code": e.code, "message": e.message}
        for e in store.item_errors(catalog_factory(), job.id, limit=100)
    ]
    return jsonify(out)


@bp.delete("/api/v1/jobs/<job_id>")
@api.validate(
    resp=responses({200: (Job, "The job, cancelled (or already finished)")}, [404, 503]),
    operation_id="cancelJob",
)
def cancel_job(job_id: str) -> Response:
    """Cancel a job (workers stop after their current batch)

    A finished job is unchanged.
    """
    from smartalbum.jobs import store

    job = _job_or_404(job_id)
    return jsonify(_job_dict(store.cancel_job(catalog_factory(), job.id)))
