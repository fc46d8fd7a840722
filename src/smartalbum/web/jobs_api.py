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

from flask import Blueprint, Response, jsonify, render_template, request

from smartalbum.web.library_api import catalog_factory
from smartalbum.web.openapi import error_responses, json_response, ref
from smartalbum.web.problems import ProblemError
from smartalbum.web.state import get_state

bp = Blueprint("jobs_api", __name__)

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_PATHS = 100
STATUSES = ("queued", "running", "done", "failed", "cancelled")


def _bad(detail: str, code: str = "bad_request") -> ProblemError:
    return ProblemError(400, "Bad Request", detail, code=code)


def _check_paths(raw: Any, allowed: list[Path]) -> list[str]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_PATHS:
        raise _bad(f"'paths' must be a list of 1 to {MAX_PATHS} server-side folders or files")
    out = []
    for item in raw:
        if not isinstance(item, str) or not item or "\x00" in item or len(item) > 4096:
            raise _bad("every path must be a non-empty string")
        path = Path(item)
        if not path.is_absolute():
            raise _bad(f"{item!r} is not an absolute path on the server", "bad_path")
        resolved = path.resolve()
        if allowed and not any(resolved.is_relative_to(r.resolve()) for r in allowed):
            raise _bad(f"{item!r} is outside the folders this server indexes", "path_not_allowed")
        if not resolved.exists() or not os.access(resolved, os.R_OK):
            raise _bad(f"{item!r} does not exist or cannot be read on the server", "bad_path")
        out.append(str(resolved))
    return out


@bp.get("/jobs")
def page() -> str:
    """The jobs page: start an index of a server folder, watch every job's progress."""
    return render_template("jobs.html")


#: Fields each built-in kind takes in ``POST /api/v1/jobs`` (besides ``kind``).
KIND_FIELDS: dict[str, set[str]] = {
    "index": {"paths", "chunk_size"},
    "classify": {"paths", "head"},
    "rehead": {"head"},
    "organize": {"into", "mode", "layout", "xmp", "head"},
}
ORGANIZE_MODES = ("copy", "link", "move")


@bp.post("/api/v1/jobs")
def create_job() -> tuple[Response, int, dict[str, str]]:
    """Start a job; 202 with the job (its progress at ``Location``)."""
    from smartalbum.jobs import store
    from smartalbum.jobs.submit import submit_index, submit_job

    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise _bad('Send a JSON object: {"kind": "index", "paths": ["/photos"]}')
    kind = body.get("kind")
    kinds = store.known_kinds()
    if kind not in kinds:
        raise _bad(f"'kind' must be one of: {', '.join(kinds)}", "unknown_kind")
    allowed = KIND_FIELDS.get(kind)
    if allowed is not None:
        unknown = set(body) - allowed - {"kind"}
        if unknown:
            raise _bad(f"unknown field(s) for {kind!r}: {', '.join(sorted(unknown))}")
    settings = get_state().settings
    factory = catalog_factory()
    params = {k: v for k, v in body.items() if k != "kind"}
    if kind == "index":
        chunk_size = body.get("chunk_size")
        if chunk_size is not None and (
            not isinstance(chunk_size, int)
            or isinstance(chunk_size, bool)
            or not 1 <= chunk_size <= 10_000
        ):
            raise _bad("'chunk_size' must be an integer from 1 to 10000")
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
    return jsonify(store.job_to_dict(job)), 202, {"Location": f"/api/v1/jobs/{job_id}"}


def _check_head(head: Any) -> None:
    heads = get_state().engine.bundle.heads
    if not isinstance(head, str) or head not in heads:
        raise _bad(f"'head' must be one of: {', '.join(heads)}", "unknown_head")


def _check_organize(params: dict[str, Any]) -> dict[str, Any]:
    """organize's options, checked here so a bad one is a 400, not a failed job."""
    from smartalbum.organize import OrganizeError, validate_layout

    into = params.get("into")
    if not isinstance(into, str) or not into or "\x00" in into or not Path(into).is_absolute():
        raise _bad("'into' must be an absolute folder on the server", "bad_path")
    mode = params.get("mode", "copy")
    if mode not in ORGANIZE_MODES:
        raise _bad(f"'mode' must be one of: {', '.join(ORGANIZE_MODES)}")
    layout = params.get("layout")
    if layout is not None:
        if not isinstance(layout, str):
            raise _bad("'layout' must be a string such as '{label}/{year}/{month}'")
        try:
            validate_layout(layout)
        except OrganizeError as exc:
            raise _bad(str(exc), "bad_layout") from None
    if not isinstance(params.get("xmp", False), bool):
        raise _bad("'xmp' must be true or false")
    return {**params, "into": str(Path(into).resolve()), "mode": mode}


@bp.post("/api/v1/jobs/classify")
def upload_classify_job() -> tuple[Response, int, dict[str, str]]:
    """Queue uploaded photos as a classify job (the page does this for large drops):
    the parts are saved to a private spool folder that the job deletes when it ends."""
    import uuid

    from smartalbum.jobs import store
    from smartalbum.jobs.submit import submit_job
    from smartalbum.web.api import _file_parts, _resolve_head

    state = get_state()
    files = _file_parts(state)
    head = _resolve_head(state)
    factory = catalog_factory()
    spool = Path(state.settings.data_dir).expanduser() / "uploads" / uuid.uuid4().hex
    spool.mkdir(parents=True, mode=0o700)
    paths, names = [], []
    try:
        for i, part in enumerate(files):
            path = spool / f"{i:05d}"
            part.save(path)
            part.close()
            paths.append(str(path))
            names.append(part.filename or f"photo {i + 1}")
        params = {"paths": paths, "names": names, "head": head, "spool": str(spool)}
        job_id = submit_job(state.settings, factory, "classify", params)
    except BaseException:
        import shutil

        shutil.rmtree(spool, ignore_errors=True)
        raise
    job = store.get_job(factory, job_id)
    return jsonify(store.job_to_dict(job)), 202, {"Location": f"/api/v1/jobs/{job_id}"}


@bp.get("/api/v1/jobs")
def list_jobs() -> Response:
    """The newest jobs first (``limit``, optional ``status``)."""
    from smartalbum.jobs import store

    unknown = set(request.args) - {"limit", "status"}
    if unknown:
        raise _bad(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError:
        raise _bad("'limit' must be an integer") from None
    if not 1 <= limit <= 200:
        raise _bad("'limit' must be from 1 to 200")
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise _bad(f"'status' must be one of: {', '.join(STATUSES)}")
    jobs = store.list_jobs(catalog_factory(), limit=limit, status=status)
    return jsonify({"jobs": [store.job_to_dict(j) for j in jobs]})


def _job_or_404(job_id: str) -> Any:
    from smartalbum.jobs import store

    job = store.get_job(catalog_factory(), job_id) if JOB_ID.match(job_id) else None
    if job is None:
        raise ProblemError(404, "Not Found", f"no job {job_id!r}", code="no_job")
    return job


@bp.get("/api/v1/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    """One job with its progress and its first failed items."""
    from smartalbum.jobs import store

    job = _job_or_404(job_id)
    out = store.job_to_dict(job)
    out["failed_items"] = [
        {"item": e.item, "code": e.code, "message": e.message}
        for e in store.item_errors(catalog_factory(), job.id, limit=100)
    ]
    return jsonify(out)


@bp.delete("/api/v1/jobs/<job_id>")
def cancel_job(job_id: str) -> Response:
    """Cancel a job (workers stop after their current batch); a finished job is unchanged."""
    from smartalbum.jobs import store

    job = _job_or_404(job_id)
    return jsonify(store.job_to_dict(store.cancel_job(catalog_factory(), job.id)))


# --------------------------------------------------------------------------- OpenAPI


def openapi_schemas() -> dict[str, Any]:
    """Component schemas of the jobs API (merged into web/openapi.py's document)."""
    nullable_int = {"type": "integer", "nullable": True}
    nullable_num = {"type": "number", "nullable": True}
    nullable_str = {"type": "string", "nullable": True}
    job = {
        "type": "object",
        "required": ["id", "kind", "status", "total", "done", "errors"],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            "kind": {"type": "string"},
            "status": {"type": "string", "enum": list(STATUSES)},
            "params": {"type": "object"},
            "total": {**nullable_int, "description": "items to do (null until planned)"},
            "done": {"type": "integer", "description": "items finished (only grows)"},
            "errors": {"type": "integer", "description": "items that failed"},
            "rate": {**nullable_num, "description": "items per second since the start"},
            "eta_s": {**nullable_num, "description": "seconds left at that rate"},
            "message": nullable_str,
            "result": {"type": "object", "nullable": True},
            "created_at": nullable_str,
            "started_at": nullable_str,
            "finished_at": nullable_str,
            "failed_items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "item": {"type": "string"},
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            },
        },
    }
    return {
        "Job": job,
        "JobList": {
            "type": "object",
            "required": ["jobs"],
            "properties": {
                "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}
            },
        },
    }


def openapi_paths(problem: Any, guarded: dict[str, Any], keyed: bool) -> dict[str, Any]:
    """The jobs API's operations; ``problem(description)`` makes a problem response."""

    def errors(*statuses: int) -> dict[str, Any]:
        text = {
            400: "A bad body or parameter (unknown kind, a path that is not an absolute, "
            "readable server path, or one outside SMARTALBUM_JOBS__ROOTS).",
            401: "Missing or wrong X-API-Key.",
            404: "No such job.",
            429: "Rate limited per client address.",
            503: "The catalog is not available.",
        }
        return error_responses(problem, text, statuses, keyed)

    job_id = {
        "name": "job_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
    }
    return {
        "/api/v1/jobs": {
            "post": {
                "operationId": "createJob",
                "summary": "Start a background job: index server-side folders",
                "description": "Returns 202 at once; workers (`smartalbum worker`, or the one "
                "`smartalbum serve` runs) do the work in chunks. Poll the job for progress.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["kind"],
                                "properties": {
                                    "kind": {
                                        "type": "string",
                                        "description": "index (paths, chunk_size), classify "
                                        "(paths, head), rehead (head), organize (into, mode, "
                                        "layout, xmp, head), or a kind a feature registers",
                                    },
                                    "paths": {
                                        "type": "array",
                                        "minItems": 1,
                                        "maxItems": MAX_PATHS,
                                        "items": {"type": "string", "minLength": 1},
                                        "description": "absolute folders or files on the "
                                        "server (the workers' shared photo mount)",
                                    },
                                    "chunk_size": {
                                        "type": "integer",
                                        "minimum": 1,
                                        "maximum": 10000,
                                        "description": "photos per chunk (default: settings)",
                                    },
                                    "head": {"type": "string"},
                                    "into": {"type": "string"},
                                    "mode": {"type": "string", "enum": list(ORGANIZE_MODES)},
                                    "layout": {"type": "string"},
                                    "xmp": {"type": "boolean"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "202": {
                        **json_response("The job, queued", ref("Job")),
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    **errors(400, 401, 429, 503),
                },
                **guarded,
            },
            "get": {
                "operationId": "listJobs",
                "summary": "Jobs, newest first, with their progress",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    },
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": list(STATUSES)},
                    },
                ],
                "responses": {
                    "200": json_response("The jobs", ref("JobList")),
                    **errors(400, 401, 429, 503),
                },
                **guarded,
            },
        },
        "/api/v1/jobs/classify": {
            "post": {
                "operationId": "createClassifyJob",
                "summary": "Queue uploaded photos as a classify job",
                "description": "For large batches: the photos are stored in a private spool "
                "folder, classified by a worker, and deleted when the job ends; the results "
                "are in the finished job's `result.results` (one per photo, in order).",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {
                                    "file": {
                                        "type": "array",
                                        "items": {"type": "string", "format": "binary"},
                                    },
                                    "head": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "202": {
                        **json_response("The job, queued", ref("Job")),
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    "413": problem("Too many files or too large a body."),
                    **errors(400, 401, 429, 503),
                },
                **guarded,
            },
        },
        "/api/v1/jobs/{job_id}": {
            "get": {
                "operationId": "getJob",
                "summary": "One job: status, done/total, rate, ETA, failed items",
                "parameters": [job_id],
                "responses": {
                    "200": json_response("The job", ref("Job")),
                    **errors(401, 404, 429, 503),
                },
                **guarded,
            },
            "delete": {
                "operationId": "cancelJob",
                "summary": "Cancel a job (workers stop after their current batch)",
                "parameters": [job_id],
                "responses": {
                    "200": json_response("The job, cancelled (or already finished)", ref("Job")),
                    **errors(401, 404, 429, 503),
                },
                **guarded,
            },
        },
    }
