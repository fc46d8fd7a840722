"""The JSON API (version 1), the seed's ``POST /classify`` and the health probes.

Routes are documented in docs/api.md; the OpenAPI document this blueprint serves at
/api/v1/openapi.json is generated from every route's models (web/contract.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.datastructures import FileStorage

from smartalbum.web.classify import ItemResult, classify_uploads
from smartalbum.web.contract import api, build_openapi, responses
from smartalbum.web.models.classify import (
    ClassifyCompatResponse,
    ClassifyResponse,
    CompatUploadForm,
    HeadQuery,
    ModelInfo,
    OpenAPIDocument,
    Status,
    UploadForm,
)
from smartalbum.web.models.common import binary
from smartalbum.web.problems import ProblemError
from smartalbum.web.state import WebState, get_state

PROMETHEUS_TEXT = binary("text/plain")

bp = Blueprint("api", __name__)

FILE_FIELD = "file"


# -- request parsing -----------------------------------------------------------------------


def _is_blank(f: FileStorage) -> bool:
    """An empty file input: browsers send a part with no filename and no bytes."""
    if f.filename:
        return False
    pos = f.stream.tell()
    empty = not f.stream.read(1)
    f.stream.seek(pos)
    return empty


def file_parts(state: WebState) -> list[FileStorage]:
    """The request's ``file`` parts, or a 400/413 problem. Parsing happens here, after
    Werkzeug has refused a body over MAX_CONTENT_LENGTH from its Content-Length."""
    if request.mimetype != "multipart/form-data":
        raise ProblemError(
            400,
            "Bad Request",
            f"Send photos as multipart/form-data, one or more parts named '{FILE_FIELD}'.",
            code="no_file",
        )
    files = [f for f in request.files.getlist(FILE_FIELD) if not _is_blank(f)]
    if not files:
        raise ProblemError(
            400,
            "Bad Request",
            f"No photo: send one or more file parts named '{FILE_FIELD}'.",
            code="no_file",
        )
    max_files = state.settings.web.max_files
    if len(files) > max_files:
        raise ProblemError(
            413,
            "Too many files",
            f"{len(files)} files in one request; the limit is {max_files}.",
            code="too_many_files",
        )
    return files


def _read(files: list[FileStorage]) -> Iterator[tuple[str, bytes]]:
    """Read parts one by one and release each (its spooled temp file) right after."""
    for f in files:
        try:
            yield f.filename or "", f.read()
        finally:
            f.close()


def resolve_head(state: WebState) -> str:
    """The ``head`` form field or query parameter (default: the configured head). Every
    value given must name a head, and they must agree: a typo is an error, not a silent
    fallback to the default."""
    given = request.form.getlist("head") + request.args.getlist("head")
    for head in given:
        state.engine.bundle.resolve_head(head)  # UnknownHeadError: 400 listing the heads
    if len(set(given)) > 1:
        raise ProblemError(
            400, "Conflicting heads", "Give one head, once.", code="conflicting_heads"
        )
    return given[0] if given else state.default_head


def _classify(state: WebState, files: list[FileStorage], head: str) -> list[ItemResult]:
    results = classify_uploads(
        _read(files),
        engine=state.engine,
        head=head,
        cache=state.cache,
        max_pixels=state.settings.imaging.max_pixels,
    )
    if len(results) == 1 and results[0].error is not None:
        # A single unreadable photo fails the request; in a batch it is one item's error.
        raise ProblemError.from_photo_error(results[0].error, results[0].filename)
    return results


# -- routes --------------------------------------------------------------------------------


UPLOAD_ERRORS = (400, 413, 415)


@bp.post("/api/v1/classify")
@api.validate(
    query=HeadQuery,
    form=UploadForm,
    resp=responses({200: (ClassifyResponse, "Results")}, UPLOAD_ERRORS),
    skip_validation=True,  # multipart: parsed by web/multipart.py, checked by file_parts
    operation_id="classify",
)
def classify() -> Response:
    """Classify one or more photos

    One result per file, in order. In a batch an unreadable file gets an error in its
    result and the others still succeed (200); a request with a single unreadable file
    fails with 400/413/415.
    """
    state = get_state()
    files = file_parts(state)
    head = resolve_head(state)
    results = _classify(state, files, head)
    return jsonify(
        results=[r.to_dict() for r in results],
        model={"name": state.engine.bundle.name, "version": state.engine.version, "head": head},
    )


@bp.post("/classify")
@api.validate(
    form=CompatUploadForm,
    resp=responses(
        {200: (ClassifyCompatResponse, "The label under the default head")}, UPLOAD_ERRORS
    ),
    skip_validation=True,
    operation_id="classifyCompat",
)
def classify_compat() -> Response:
    """The seed's endpoint: one photo -> its class

    Kept for its clients: one ``file`` -> ``{"class": label}``.
    """
    state = get_state()
    files = file_parts(state)
    if len(files) != 1:
        raise ProblemError(
            400, "Bad Request", "This endpoint takes exactly one file.", code="one_file_only"
        )
    (result,) = _classify(state, files, state.default_head)
    assert result.prediction is not None
    return jsonify({"class": result.prediction["label"]})


@bp.get("/api/v1/model")
@api.validate(resp=responses({200: (ModelInfo, "Model")}), operation_id="model")
def model_info() -> Response:
    """The loaded model bundle, its heads, labels and limits"""
    state = get_state()
    bundle = state.engine.bundle
    return jsonify(
        name=bundle.name,
        version=state.engine.version,
        default_head=state.default_head,
        backbone={
            k: bundle.backbone[k]
            for k in ("arch", "precision", "embedding_dim")
            if k in bundle.backbone
        },
        preprocess=bundle.preprocess.model_dump(),
        heads=[
            {
                "name": name,
                "description": head.description,
                "labels": list(head.labels),
                "threshold": head.threshold,
                "metrics": bundle.metrics.get(name, head.metrics),
            }
            for name, head in bundle.heads.items()
        ],
        limits={
            "max_upload_mb": state.settings.web.max_upload_mb,
            "max_files": state.settings.web.max_files,
        },
    )


@bp.get("/api/v1/openapi.json")
@api.validate(
    resp=responses({200: (OpenAPIDocument, "OpenAPI 3 document")}, keyed=False),
    operation_id="openapi",
)
def openapi() -> Response:
    """This document"""
    return jsonify(build_openapi())


@bp.get("/healthz")
@api.validate(resp=responses({200: (Status, "Alive")}, keyed=False), operation_id="healthz")
def healthz() -> Response:
    """Liveness: the process answers"""
    return jsonify(status="ok")


@bp.get("/readyz")
@api.validate(resp=responses({200: (Status, "Ready")}, [503], keyed=False), operation_id="readyz")
def readyz() -> Response:
    """Readiness: each dependency on its own (model, database, broker, worker)

    `checks` holds one `{"ok": true|false|null, "detail": ...}` per dependency; a 503
    problem (with Retry-After) names what is down (`down`). `null`: not seen from this
    process (workers on other machines), which does not make it unready. The answer is
    kept for `SMARTALBUM_WEB__READY_CACHE_S` (5 s): the check runs the model.
    """
    from smartalbum.web.readiness import EXTENSION_KEY, ReadinessCache

    state = get_state()
    cache = current_app.extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(
            EXTENSION_KEY, ReadinessCache(state.settings.web.ready_cache_s)
        )
    ready, cached = cache.get(state)
    if down := ready.down:
        for part, why in down.items():
            current_app.logger.warning("not ready: %s: %s", part, why)
        detail = "; ".join(f"{part}: {why}" for part, why in down.items())
        raise ProblemError(
            503,
            "Not ready",
            f"Not ready: {detail}.",
            code="not_ready",
            down=down,
            checks=ready.to_dict(),
            cached=cached,
        )
    return jsonify(
        status="ready",
        model={"name": state.engine.bundle.name, "version": state.engine.version},
        checks=ready.to_dict(),
        cached=cached,
    )


@bp.get("/metrics")
@api.validate(
    resp=responses({200: (PROMETHEUS_TEXT, "Prometheus text format")}), operation_id="metrics"
)
def metrics() -> Response:
    """Prometheus metrics

    Requests by endpoint and status, request latency, jobs by kind and status, the job
    queue's depth, items done (rate() = photos/s) and the running jobs' items per second.
    Behind the API key when one is set. docs/deploy.md#metrics.
    """
    from smartalbum.web.metrics import render

    return render(current_app)
