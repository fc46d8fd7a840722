"""Categories over HTTP: teach, list, show, correct, retrain, version, export/import, and
explain a prediction with a heat-map; plus the categories pages.

Examples are picked from the library by content hash (``sha256``) or uploaded; an upload
is stored under ``<data_dir>/examples/`` (a copy: the user's files are never touched) and
indexed once. Fitting and re-sorting one category are fast (milliseconds to a few seconds
for 50,000 photos) and answer at once; retraining or growing every category runs as a
``categories`` job (202 + the job's URL; progress at ``/api/v1/jobs/<id>``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from smartalbum.atomic import write_atomic
from smartalbum.categories.errors import CategoryError
from smartalbum.web.library_api import catalog_factory
from smartalbum.web.openapi import error_responses, json_response, ref
from smartalbum.web.problems import ProblemError
from smartalbum.web.state import get_state

bp = Blueprint("categories_api", __name__)

MAX_EXAMPLES = 500
MAX_LIMIT = 1000
EXPLAIN_FORMATS = ("png", "json")
SHA256 = re.compile(r"[0-9a-f]{64}")


@bp.errorhandler(CategoryError)
def _category_error(exc: CategoryError) -> Response:
    from smartalbum.web.problems import problem

    title = {
        404: "Not Found",
        409: "Conflict",
        422: "Unprocessable Content",
        501: "Not Implemented",
    }.get(exc.status, "Bad Request")
    return problem(exc.status, title, str(exc), code=exc.code)


# --------------------------------------------------------------------------- helpers


def _teacher() -> Any:
    from smartalbum.categories.teach import Teacher, bundle_backbone_version

    state = get_state()
    return Teacher(
        catalog_factory(),
        bundle_backbone_version(state.engine.bundle.path),
        cache_root=Path(state.settings.data_dir).expanduser() / "cache",
    )


def _bad(detail: str, code: str = "bad_request") -> ProblemError:
    return ProblemError(400, "Bad Request", detail, code=code)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise _bad("the request body must be a JSON object")
    return data


def _hashes(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > MAX_EXAMPLES
        or not all(isinstance(v, str) and SHA256.fullmatch(v) for v in value)
    ):
        raise _bad(
            f"'{field}' must be a list of at most {MAX_EXAMPLES} sha256 strings (64 lowercase hex)"
        )
    return list(value)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(f"'{name}' must be an integer", "bad_parameter") from None
    if not low <= value <= high:
        raise _bad(f"'{name}' must be between {low} and {high}", "bad_parameter")
    return value


def _uploaded_ids(field: str) -> list[int]:
    """Store uploaded example files under the data dir (by content hash) and index them."""
    from smartalbum.categories.resolve import photo_ids_for_paths

    files = [f for f in request.files.getlist(field) if f and f.filename]
    if not files:
        return []
    state = get_state()
    if len(files) > state.settings.web.max_files:
        raise _bad(f"at most {state.settings.web.max_files} files per request")
    folder = Path(state.settings.data_dir).expanduser() / "examples"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in files:
        data = f.read()
        if not data:
            raise _bad(f"{f.filename}: empty file", "empty_file")
        suffix = Path(f.filename).suffix.lower()[:8] or ".jpg"
        path = folder / f"{hashlib.sha256(data).hexdigest()}{suffix}"
        if not path.exists():
            write_atomic(path, data)
        paths.append(path)
    return photo_ids_for_paths(catalog_factory(), paths, state.engine)


def _example_ids(data: dict[str, Any], field: str) -> list[int]:
    from smartalbum.categories.resolve import photo_ids_for_hashes

    hashes = _hashes(data.get(field), field)
    with catalog_factory()() as s:
        return photo_ids_for_hashes(s, hashes)


def _request_examples() -> tuple[dict[str, Any], list[int], list[int]]:
    """(fields, positives, negatives) from a JSON body or a multipart form with uploads."""
    if request.mimetype == "multipart/form-data":
        form = request.form
        data: dict[str, Any] = {
            "name": form.get("name"),
            "description": form.get("description", ""),
            "examples": [h for h in form.getlist("examples") if h],
            "counter_examples": [h for h in form.getlist("counter_examples") if h],
        }
        pos = _example_ids(data, "examples") + _uploaded_ids("examples")
        neg = _example_ids(data, "counter_examples") + _uploaded_ids("counter_examples")
        return data, pos, neg
    data = _body()
    return data, _example_ids(data, "examples"), _example_ids(data, "counter_examples")


def _with_links(summary: dict[str, Any]) -> dict[str, Any]:
    name = summary["name"]
    return {
        **summary,
        "links": {
            "self": url_for("categories_api.get_category", name=name),
            "photos": url_for("categories_api.category_photos", name=name),
            "page": url_for("categories_api.category_page", name=name),
        },
    }


def _submit(action: str, names: list[str]) -> tuple[Response, int, dict[str, str]]:
    from smartalbum.jobs import store as job_store
    from smartalbum.jobs.submit import submit_job

    factory = catalog_factory()
    job_id = submit_job(
        get_state().settings, factory, "categories", {"action": action, "names": names}
    )
    job = job_store.get_job(factory, job_id)
    location = url_for("jobs_api.get_job", job_id=job_id)
    return jsonify(job_store.job_to_dict(job)), 202, {"Location": location}


# --------------------------------------------------------------------------- pages


@bp.get("/categories")
def page() -> str:
    """Categories: list, create from library picks or uploads, retrain."""
    return render_template("categories.html")


@bp.get("/categories/<name>")
def category_page(name: str) -> str:
    """One category: its photos, the review queue, versions, retrain, export, delete."""
    return render_template("categories_show.html", name=name)


# --------------------------------------------------------------------------- API


@bp.get("/api/v1/categories")
def list_categories() -> Response:
    from smartalbum.categories import store

    with catalog_factory()() as s:
        rows = [_with_links(store.summary(s, c)) for c in store.all_categories(s)]
    return jsonify({"categories": rows})


@bp.post("/api/v1/categories")
def create_category() -> tuple[Response, int, dict[str, str]]:
    """Create a category from examples (sha256 of library photos, or uploaded files)."""
    data, pos, neg = _request_examples()
    name = data.get("name")
    if not isinstance(name, str) or "examples" not in data:
        raise _bad("'name' (a string) and 'examples' are required")
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        raise _bad("'description' must be a string of at most 2000 characters")
    result = _teacher().create(name, pos, neg, description=description)
    body = _with_links(result)
    return jsonify(body), 201, {"Location": body["links"]["self"]}


@bp.post("/api/v1/categories/import")
def import_category() -> tuple[Response, int, dict[str, str]]:
    """Import a file written by ``GET .../export`` (optionally ``?name=`` to rename)."""
    raw = request.files.get("file")
    if raw is not None:
        try:
            data = json.loads(raw.read())
        except ValueError:
            raise _bad("the uploaded file is not JSON") from None
    else:
        data = _body()
    name = request.args.get("name")
    result = _teacher().import_category(data, name)
    body = _with_links(result)
    return jsonify(body), 201, {"Location": body["links"]["self"]}


@bp.get("/api/v1/categories/<name>")
def get_category(name: str) -> Response:
    from smartalbum.categories import store

    with catalog_factory()() as s:
        category = store.get_category(s, name)
        body = _with_links(store.summary(s, category))
        body["versions"] = [store.version_dict(v) for v in store.versions(s, category)]
        body["labels"] = store.example_rows(s, category)
    return jsonify(body)


@bp.patch("/api/v1/categories/<name>")
def edit_category(name: str) -> Response:
    """Rename or re-describe a category (``name``, ``description``)."""
    from smartalbum.categories import store
    from smartalbum.library.db import session_scope

    data = _body()
    unknown = set(data) - {"name", "description"}
    if unknown:
        raise _bad(f"unknown field(s): {', '.join(sorted(unknown))}")
    with session_scope(catalog_factory()) as s:
        category = store.get_category(s, name)
        if "name" in data:
            if not isinstance(data["name"], str):
                raise _bad("'name' must be a string")
            store.rename_category(s, category, data["name"])
        if "description" in data:
            if not isinstance(data["description"], str) or len(data["description"]) > 2000:
                raise _bad("'description' must be a string of at most 2000 characters")
            category.description = data["description"]
        s.flush()
        body = _with_links(store.summary(s, category))
    return jsonify(body)


@bp.delete("/api/v1/categories/<name>")
def delete_category(name: str) -> tuple[str, int]:
    from smartalbum.categories import store
    from smartalbum.library.db import session_scope

    with session_scope(catalog_factory()) as s:
        store.delete_category(s, name)
    return "", 204


@bp.get("/api/v1/categories/<name>/photos")
def category_photos(name: str) -> Response:
    """The category's photos, best score first (``limit``, ``offset``)."""
    from smartalbum.categories.query import members

    limit = _int_arg("limit", 100, 1, MAX_LIMIT)
    offset = _int_arg("offset", 0, 0, 10**9)
    with catalog_factory()() as s:
        rows = members(s, name, limit=limit, offset=offset)
    for r in rows:
        r["thumbnail"] = f"/api/v1/photos/{r['photo_id']}/thumbnail"
    return jsonify({"photos": rows, "limit": limit, "offset": offset})


@bp.post("/api/v1/categories/<name>/examples")
def add_examples(name: str) -> Response:
    """More examples / counter-examples (sha256 lists or uploads): refit, re-sort."""
    _, pos, neg = _request_examples()
    if not pos and not neg:
        raise _bad("give 'examples' or 'counter_examples'")
    return jsonify(_with_links(_teacher().add_examples(name, pos, neg)))


@bp.post("/api/v1/categories/<name>/corrections")
def correct(name: str) -> Response:
    """A correction: ``{"sha256": ..., "member": true|false}``; applied to the members at
    once, learnt by the head at the next retrain."""
    from smartalbum.categories.resolve import photo_ids_for_hashes

    data = _body()
    [sha] = _hashes(
        [data.get("sha256")] if isinstance(data.get("sha256"), str) else None, "sha256"
    ) or [None]
    if sha is None or not isinstance(data.get("member"), bool):
        raise _bad("give 'sha256' (a string) and 'member' (true or false)")
    with catalog_factory()() as s:
        [pid] = photo_ids_for_hashes(s, [sha])
    return jsonify(_with_links(_teacher().correct(name, pid, data["member"])))


@bp.get("/api/v1/categories/<name>/review")
def review(name: str) -> Response:
    """Photos to label next, most uncertain first (active learning)."""
    from smartalbum.categories.query import review_items

    limit = _int_arg("limit", 50, 1, MAX_LIMIT)
    teacher = _teacher()
    with teacher.factory() as s:
        items = review_items(teacher, s, name, limit=limit)
    for item in items:
        item["thumbnail"] = f"/api/v1/photos/{item['photo_id']}/thumbnail"
    return jsonify({"photos": items})


@bp.get("/api/v1/categories/<name>/versions")
def versions(name: str) -> Response:
    from smartalbum.categories import store

    with catalog_factory()() as s:
        rows = [store.version_dict(v) for v in store.versions(s, store.get_category(s, name))]
    return jsonify({"versions": rows})


@bp.post("/api/v1/categories/<name>/versions/<int:version>/restore")
def restore(name: str, version: int) -> Response:
    return jsonify(_with_links(_teacher().restore(name, version)))


@bp.get("/api/v1/categories/<name>/export")
def export(name: str) -> Response:
    from smartalbum.categories import store

    with catalog_factory()() as s:
        doc = store.export_category(s, name)
    resp = jsonify(doc)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in doc["name"])[:60]
    resp.headers["Content-Disposition"] = f'attachment; filename="{safe or "category"}.json"'
    return resp


@bp.post("/api/v1/categories/<name>/grow")
def grow(name: str) -> tuple[Response, int, dict[str, str]]:
    """Pseudo-label confident photos, kept only where it helps (a ``categories`` job)."""
    from smartalbum.categories import store

    with catalog_factory()() as s:
        store.get_category(s, name)
    return _submit("grow", [name])


@bp.post("/api/v1/retrain")
def retrain() -> tuple[Response, int, dict[str, str]]:
    """Retrain categories (``names``, default all) from examples and corrections, as a
    job; its result holds a before/after report per category."""
    from smartalbum.categories import store

    data = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(data, dict):
        raise _bad("the request body must be a JSON object (or empty)")
    names = data.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _bad("'names' must be a list of category names")
    with catalog_factory()() as s:
        for n in names:
            store.get_category(s, n)
    return _submit("retrain", names)


@bp.get("/api/v1/photos/<int:photo_id>/explain")
def explain(photo_id: int) -> Response:
    """Where the model looked: ``category=NAME`` (or ``head=NAME``, default the app's head);
    ``format=png`` (the photo with a heat-map overlay) or ``json`` (the map as numbers)."""
    from smartalbum.categories import store
    from smartalbum.categories.explain import overlay_png
    from smartalbum.imaging.decode import load_photo
    from smartalbum.imaging.errors import PhotoError
    from smartalbum.library.schema import Photo
    from smartalbum.web.library_api import MAX_PHOTO_ID

    fmt = request.args.get("format", "png")
    if fmt not in EXPLAIN_FORMATS:
        raise _bad(f"'format' must be one of {', '.join(EXPLAIN_FORMATS)}", "bad_parameter")
    unknown = set(request.args) - {"category", "head", "format"}
    if unknown:
        raise _bad(f"unknown parameter(s): {', '.join(sorted(unknown))}", "unknown_parameter")
    state = get_state()
    if photo_id > MAX_PHOTO_ID:
        raise ProblemError(404, "Not Found", f"no photo {photo_id}", code="photo_not_found")
    from smartalbum.categories.query import paths_of

    with catalog_factory()() as s:
        if s.get(Photo, photo_id) is None:
            raise ProblemError(404, "Not Found", f"no photo {photo_id}", code="photo_not_found")
        path = paths_of(s, [photo_id]).get(photo_id)
        if request.args.get("category"):
            active = store.active_version(s, store.get_category(s, request.args["category"]))
            if active is None:
                raise ProblemError(409, "Conflict", "the category has no head yet", code="no_head")
            head = store.head_of(active)
        else:
            try:
                head = state.engine.head(request.args.get("head") or state.default_head)
            except KeyError as exc:
                raise _bad(str(exc.args[0]), "unknown_head") from None
    if path is None:
        raise ProblemError(
            404, "Not Found", "the photo's file is missing", code="photo_file_missing"
        )
    try:
        image = load_photo(path, max_side=512, digest=False).image
    except (PhotoError, OSError) as exc:
        raise ProblemError(
            404, "Not Found", f"cannot read the photo: {exc}", code="photo_unreadable"
        ) from None
    result = _explainer(state).heatmap(image, head)
    if fmt == "json":
        return jsonify(
            {
                "photo_id": photo_id,
                "head": head.name,
                "label": result["label"],
                "probability": round(result["probability"], 6),
                "map": [[round(float(v), 4) for v in row] for row in result["map"]],
            }
        )
    resp = Response(overlay_png(image, result["map"]), mimetype="image/png")
    resp.headers["Cache-Control"] = "private, max-age=300"
    return resp


def _explainer(state: Any) -> Any:
    """One explainer per app (its ONNX session is built on the first request)."""
    from flask import current_app

    from smartalbum.categories.explain import Explainer

    key = "smartalbum.explainer"
    if key not in current_app.extensions:
        current_app.extensions[key] = Explainer(
            state.engine.bundle, threads=max(1, state.settings.model.threads)
        )
    return current_app.extensions[key]


# --------------------------------------------------------------------------- OpenAPI


def openapi_schemas() -> dict[str, Any]:
    """Schemas of the categories API (loose where the shape grows with features)."""
    num, integer, string = {"type": "number"}, {"type": "integer"}, {"type": "string"}
    nullable_int = {"type": "integer", "nullable": True}
    return {
        "Category": {
            "type": "object",
            "required": ["name", "examples", "counter_examples", "members"],
            "properties": {
                "name": string,
                "description": string,
                "examples": integer,
                "counter_examples": integer,
                "members": {**integer, "description": "photos in the category now"},
                "version": {**nullable_int, "description": "the active head version"},
                "threshold": {**num, "nullable": True},
                "created_at": {**string, "nullable": True},
                "updated_at": {**string, "nullable": True},
                "links": {"type": "object", "additionalProperties": string},
                "resort": {"type": "object", "additionalProperties": True},
                "versions": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/CategoryVersion"},
                },
                "labels": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": True},
                },
            },
            "additionalProperties": True,
        },
        "CategoryVersion": {
            "type": "object",
            "required": ["version", "active", "reason"],
            "properties": {
                "version": integer,
                "active": {"type": "boolean"},
                "reason": {**string, "description": "create, edit, retrain, pseudo, import"},
                "backbone_version": string,
                "threshold": num,
                "metrics": {"type": "object", "additionalProperties": True},
                "created_at": {**string, "nullable": True},
            },
            "additionalProperties": True,
        },
        "CategoryPhoto": {
            "type": "object",
            "required": ["photo_id", "sha256", "score"],
            "properties": {
                "photo_id": integer,
                "sha256": {**string, "nullable": True},
                "path": {**string, "nullable": True},
                "score": {**num, "description": "P(in the category), calibrated"},
                "thumbnail": string,
                "uncertainty": num,
                "predicted": {"type": "boolean"},
            },
            "additionalProperties": True,
        },
    }


def openapi_paths(problem: Any, guarded: dict[str, Any], keyed: bool) -> dict[str, Any]:
    """The categories API's operations; ``problem(description)`` makes a problem response."""

    def errors(*statuses: int) -> dict[str, Any]:
        text = {
            400: "A bad body or parameter (an invalid name, sha256 or field).",
            401: "Missing or wrong X-API-Key.",
            404: "No such category, version or photo.",
            409: "A category of that name exists already.",
            422: "Too few examples to fit a head (at least 2).",
            429: "Rate limited per client address.",
            501: "The bundle cannot explain (no features.onnx).",
            503: "The catalog is not available.",
        }
        return error_responses(problem, text, statuses, keyed)

    name = {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    }
    hashes = {
        "type": "array",
        "maxItems": MAX_EXAMPLES,
        "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    }
    examples_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"examples": hashes, "counter_examples": hashes},
                }
            }
        },
    }
    job = json_response("The job, queued (progress at Location)", {"$ref": "#/components/schemas/Job"})

    def op(op_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "operationId": op_id,
            "summary": summary,
            "responses": responses,
            **extra,
            **guarded,
        }

    limit = {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    }
    offset = {
        "name": "offset",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 0, "maximum": 10**9},
    }
    return {
        "/api/v1/categories": {
            "get": op(
                "listCategories",
                "The categories",
                {
                    "200": json_response(
                        "Every category",
                        {
                            "type": "object",
                            "properties": {
                                "categories": {"type": "array", "items": ref("Category")}
                            },
                        },
                    ),
                    **errors(401, 429, 503),
                },
            ),
            "post": op(
                "createCategory",
                "Teach a category from example photos",
                {
                    "201": json_response("Created, fitted and the catalog re-sorted", ref("Category")),
                    **errors(400, 401, 404, 409, 422, 429, 503),
                },
                description="Examples are library photos by sha256; or send "
                "multipart/form-data with `name`, `description` and files (or sha256 values) "
                "in `examples` / `counter_examples`: uploads are stored under the data dir "
                "and indexed once. The head is fitted from stored embeddings in seconds.",
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["name", "examples"],
                                "properties": {
                                    "name": {"type": "string", "minLength": 1, "maxLength": 128},
                                    "description": {"type": "string", "maxLength": 2000},
                                    "examples": hashes,
                                    "counter_examples": hashes,
                                },
                            }
                        }
                    },
                },
            ),
        },
        "/api/v1/categories/import": {
            "post": op(
                "importCategory",
                "Import a category file (from export)",
                {"201": json_response("Imported", ref("Category")), **errors(400, 401, 409, 429, 503)},
                parameters=[
                    {
                        "name": "name",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                    }
                ],
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["format", "name"],
                                "properties": {
                                    "format": {"type": "string", "enum": ["smartalbum-category/1"]},
                                    "name": {"type": "string"},
                                },
                            }
                        }
                    },
                },
            ),
        },
        "/api/v1/categories/{name}": {
            "get": op(
                "getCategory",
                "A category with its versions and labels",
                {"200": json_response("The category", ref("Category")), **errors(401, 404, 429, 503)},
                parameters=[name],
            ),
            "patch": op(
                "editCategory",
                "Rename or re-describe a category",
                {
                    "200": json_response("The category", ref("Category")),
                    **errors(400, 401, 404, 409, 429, 503),
                },
                parameters=[name],
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "name": {"type": "string", "minLength": 1, "maxLength": 128},
                                    "description": {"type": "string", "maxLength": 2000},
                                },
                            }
                        }
                    },
                },
            ),
            "delete": op(
                "deleteCategory",
                "Delete a category (never a photo)",
                {"204": {"description": "Deleted"}, **errors(401, 404, 429, 503)},
                parameters=[name],
            ),
        },
        "/api/v1/categories/{name}/photos": {
            "get": op(
                "categoryPhotos",
                "The category's photos, best score first",
                {
                    "200": json_response(
                        "A page of photos",
                        {
                            "type": "object",
                            "properties": {
                                "photos": {"type": "array", "items": ref("CategoryPhoto")},
                                "limit": {"type": "integer"},
                                "offset": {"type": "integer"},
                            },
                        },
                    ),
                    **errors(400, 401, 404, 429, 503),
                },
                parameters=[name, limit, offset],
            ),
        },
        "/api/v1/categories/{name}/examples": {
            "post": op(
                "addCategoryExamples",
                "More (counter-)examples: refit and re-sort",
                {
                    "200": json_response("The category", ref("Category")),
                    **errors(400, 401, 404, 422, 429, 503),
                },
                parameters=[name],
                requestBody=examples_body,
            ),
        },
        "/api/v1/categories/{name}/corrections": {
            "post": op(
                "correctCategory",
                "A photo is (not) in the category",
                {"200": json_response("The category", ref("Category")), **errors(400, 401, 404, 429, 503)},
                parameters=[name],
                description="Applied to the members at once; the head learns from it at the "
                "next retrain.",
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["sha256", "member"],
                                "properties": {
                                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                    "member": {"type": "boolean"},
                                },
                            }
                        }
                    },
                },
            ),
        },
        "/api/v1/categories/{name}/review": {
            "get": op(
                "categoryReview",
                "Photos to label next, most uncertain first",
                {
                    "200": json_response(
                        "The queue",
                        {
                            "type": "object",
                            "properties": {
                                "photos": {"type": "array", "items": ref("CategoryPhoto")}
                            },
                        },
                    ),
                    **errors(400, 401, 404, 429, 503),
                },
                parameters=[name, limit],
            ),
        },
        "/api/v1/categories/{name}/versions": {
            "get": op(
                "categoryVersions",
                "The head versions of a category",
                {
                    "200": json_response(
                        "Versions, oldest first",
                        {
                            "type": "object",
                            "properties": {
                                "versions": {"type": "array", "items": ref("CategoryVersion")}
                            },
                        },
                    ),
                    **errors(401, 404, 429, 503),
                },
                parameters=[name],
            ),
        },
        "/api/v1/categories/{name}/versions/{version}/restore": {
            "post": op(
                "restoreCategoryVersion",
                "Make a head version active again",
                {"200": json_response("The category", ref("Category")), **errors(400, 401, 404, 429, 503)},
                parameters=[
                    name,
                    {
                        "name": "version",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                    },
                ],
            ),
        },
        "/api/v1/categories/{name}/export": {
            "get": op(
                "exportCategory",
                "The category as a small JSON file",
                {
                    "200": json_response(
                        "Head and examples by sha256",
                        {"type": "object", "additionalProperties": True},
                    ),
                    **errors(401, 404, 429, 503),
                },
                parameters=[name],
            ),
        },
        "/api/v1/categories/{name}/grow": {
            "post": op(
                "growCategory",
                "Pseudo-label confident photos (a job)",
                {"202": job, **errors(400, 401, 404, 429, 503)},
                parameters=[name],
                description="Kept only when it helps on held-back labels; the job's "
                "result says so.",
            ),
        },
        "/api/v1/retrain": {
            "post": op(
                "retrain",
                "Retrain categories from examples and corrections (a job)",
                {"202": job, **errors(400, 401, 404, 429, 503)},
                description="A new head replaces the old only when at least as good on a "
                "held-back part of the user's labels; the job's result has the before/after "
                "report per category.",
                requestBody={
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "names": {
                                        "type": "array",
                                        "maxItems": 1000,
                                        "items": {"type": "string", "maxLength": 128},
                                    }
                                },
                            }
                        }
                    },
                },
            ),
        },
        "/api/v1/photos/{photo_id}/explain": {
            "get": op(
                "explainPhoto",
                "Heat-map of where the model looked",
                {
                    "200": {
                        "description": "The photo with the heat-map (PNG), or the map as JSON",
                        "content": {
                            "image/png": {"schema": {"type": "string", "format": "binary"}},
                            "application/json": {"schema": {"type": "object"}},
                        },
                    },
                    **errors(400, 401, 404, 429, 501, 503),
                },
                parameters=[
                    {
                        "name": "photo_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                    },
                    {
                        "name": "category",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                    },
                    {
                        "name": "head",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                    },
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": list(EXPLAIN_FORMATS)},
                    },
                ],
                description="Grad-CAM over the backbone's last feature map (for a linear "
                "head, the class activation map), computed on demand: one backbone run.",
            ),
        },
    }
