"""Categories over HTTP: teach, list, show, correct, retrain, version, export/import, and
explain a prediction with a heat-map; plus the categories pages.

Examples are picked from the library by content hash (``sha256``) or uploaded; an upload
is stored under ``<data_dir>/examples/`` (a copy: the user's files are never touched) and
indexed once. Fitting and re-sorting one category are fast (milliseconds to a few seconds
for 50,000 photos) and answer at once; retraining or growing every category runs as a
``categories`` job (202 + the job's URL; progress at ``/api/v1/jobs/<id>``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from smartalbum.atomic import write_atomic
from smartalbum.web.contract import api, json_body, query_args, responses, validate
from smartalbum.web.library_api import MAX_PHOTO_ID, catalog_factory
from smartalbum.web.models.categories import (
    Category,
    CategoryEditBody,
    CategoryExport,
    CategoryList,
    CategoryPhotos,
    CategoryVersions,
    ExamplesBody,
    ExplainQuery,
    Explanation,
    ImportBody,
    ImportQuery,
    MembershipBody,
    NewCategoryBody,
    PageQuery,
    RetrainBody,
    ReviewQuery,
)
from smartalbum.web.models.jobs import Job
from smartalbum.web.problems import ProblemError
from smartalbum.web.security import check_json_depth
from smartalbum.web.state import get_state

bp = Blueprint("categories_api", __name__)

#: Problems of every categories route but the list (domain errors carry their status).
ERRORS = (400, 404, 409, 422, 503)
QUEUED = (Job, "The job, queued (progress at Location)")


# --------------------------------------------------------------------------- helpers


def _teacher() -> Any:
    from smartalbum.categories.teach import Teacher, bundle_backbone_version

    state = get_state()
    return Teacher(
        catalog_factory(),
        bundle_backbone_version(state.engine.bundle.path),
        cache_root=Path(state.settings.data_dir).expanduser() / "cache",
    )


def _uploaded_ids(field: str) -> list[int]:
    """Keep uploaded example files in the catalog (by content hash: every node can use
    them) with a cached copy under this node's data dir, and index them."""
    from smartalbum.categories.resolve import photo_ids_for_paths
    from smartalbum.library import stored_files

    files = [f for f in request.files.getlist(field) if f and f.filename]
    if not files:
        return []
    state = get_state()
    if len(files) > state.settings.web.max_files:
        detail = f"at most {state.settings.web.max_files} files per request"
        raise ProblemError.bad_parameter(field, detail)
    factory = catalog_factory()
    folder = stored_files.examples_dir(state.settings.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in files:
        data = f.read()
        if not data:
            detail = f"{f.filename}: empty file"
            raise ProblemError(400, "Bad Request", detail, code="empty_file")
        suffix = Path(f.filename).suffix.lower()[:8] or ".jpg"
        sha = stored_files.put(factory, data, f.filename)
        path = folder / f"{sha}{suffix}"
        if not path.exists():
            write_atomic(path, data)
        paths.append(path)
    return photo_ids_for_paths(factory, paths, state.engine)


def _example_ids(hashes: list[str] | None) -> list[int]:
    from smartalbum.categories.resolve import photo_ids_for_hashes

    if not hashes:
        return []
    with catalog_factory()() as s:
        return photo_ids_for_hashes(s, hashes)


def _request_examples(model: type[ExamplesBody]) -> tuple[Any, list[int], list[int]]:
    """(body, positives, negatives) from a JSON body or a multipart form with uploads (the
    form's fields checked by the same model as the JSON body)."""
    if request.mimetype == "multipart/form-data":
        form = request.form
        fields: dict[str, Any] = {
            "examples": [h for h in form.getlist("examples") if h],
            "counter_examples": [h for h in form.getlist("counter_examples") if h],
        }
        for name in set(model.model_fields) - set(fields):
            if name in form:
                fields[name] = form[name]
        body = validate(model, fields)
        pos = _example_ids(body.examples) + _uploaded_ids("examples")
        neg = _example_ids(body.counter_examples) + _uploaded_ids("counter_examples")
        return body, pos, neg
    body = json_body()
    return body, _example_ids(body.examples), _example_ids(body.counter_examples)


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
@api.validate(
    resp=responses({200: (CategoryList, "Every category")}, [503]),
    operation_id="listCategories",
)
def list_categories() -> Response:
    """The categories"""
    from smartalbum.categories import store

    with catalog_factory()() as s:
        rows = [_with_links(store.summary(s, c)) for c in store.all_categories(s)]
    return jsonify({"categories": rows})


@bp.post("/api/v1/categories")
@api.validate(
    json=NewCategoryBody,
    resp=responses({201: (Category, "Created, fitted and the catalog re-sorted")}, ERRORS),
    operation_id="createCategory",
)
def create_category() -> tuple[Response, int, dict[str, str]]:
    """Teach a category from example photos

    Examples are library photos by sha256; or send multipart/form-data with `name`,
    `description` and files (or sha256 values) in `examples` / `counter_examples`: uploads
    are stored under the data dir and indexed once. The head is fitted from stored
    embeddings in seconds.
    """
    body, pos, neg = _request_examples(NewCategoryBody)
    result = _teacher().create(body.name, pos, neg, description=body.description)
    body = _with_links(result)
    return jsonify(body), 201, {"Location": body["links"]["self"]}


@bp.post("/api/v1/categories/import")
@api.validate(
    query=ImportQuery,
    json=ImportBody,
    resp=responses({201: (Category, "Imported")}, ERRORS),
    operation_id="importCategory",
)
def import_category() -> tuple[Response, int, dict[str, str]]:
    """Import a category file (from export)

    The file written by ``GET .../export``, as the JSON body or the multipart part
    ``file``; ``?name=`` renames it.
    """
    raw = request.files.get("file")
    if raw is not None:
        content = raw.read()
        check_json_depth(content, "file")
        try:
            data = json.loads(content)
        except ValueError:
            raise ProblemError.bad_parameter("file", "the uploaded file is not JSON") from None
    else:
        data = json_body().model_dump(exclude_unset=True)
    name = query_args().name
    result = _teacher().import_category(data, name)
    body = _with_links(result)
    return jsonify(body), 201, {"Location": body["links"]["self"]}


@bp.get("/api/v1/categories/<string(maxlength=128):name>")
@api.validate(resp=responses({200: (Category, "The category")}, ERRORS), operation_id="getCategory")
def get_category(name: str) -> Response:
    """A category with its versions and labels"""
    from smartalbum.categories import store

    with catalog_factory()() as s:
        category = store.get_category(s, name)
        body = _with_links(store.summary(s, category))
        body["versions"] = [store.version_dict(v) for v in store.versions(s, category)]
        body["labels"] = store.example_rows(s, category)
    return jsonify(body)


@bp.patch("/api/v1/categories/<string(maxlength=128):name>")
@api.validate(
    json=CategoryEditBody,
    resp=responses({200: (Category, "The category")}, ERRORS),
    operation_id="editCategory",
)
def edit_category(name: str) -> Response:
    """Rename or re-describe a category"""
    from smartalbum.categories import store
    from smartalbum.library.db import session_scope

    body: CategoryEditBody = json_body()
    with session_scope(catalog_factory()) as s:
        category = store.get_category(s, name)
        if body.name is not None:
            store.rename_category(s, category, body.name)
        if body.description is not None:
            category.description = body.description
        s.flush()
        body = _with_links(store.summary(s, category))
    return jsonify(body)


@bp.delete("/api/v1/categories/<string(maxlength=128):name>")
@api.validate(resp=responses({204: (None, "Deleted")}, ERRORS), operation_id="deleteCategory")
def delete_category(name: str) -> tuple[str, int]:
    """Delete a category (never a photo)"""
    from smartalbum.categories import store
    from smartalbum.library.db import session_scope

    with session_scope(catalog_factory()) as s:
        store.delete_category(s, name)
    return "", 204


@bp.get("/api/v1/categories/<string(maxlength=128):name>/photos")
@api.validate(
    query=PageQuery,
    resp=responses({200: (CategoryPhotos, "A page of photos")}, ERRORS),
    operation_id="categoryPhotos",
)
def category_photos(name: str) -> Response:
    """The category's photos, best score first"""
    from smartalbum.categories.query import members

    args: PageQuery = query_args()
    limit, offset = args.limit, args.offset
    with catalog_factory()() as s:
        rows = members(s, name, limit=limit, offset=offset)
    for r in rows:
        r["thumbnail"] = f"/api/v1/photos/{r['photo_id']}/thumbnail"
    return jsonify({"photos": rows, "limit": limit, "offset": offset})


@bp.post("/api/v1/categories/<string(maxlength=128):name>/examples")
@api.validate(
    json=ExamplesBody,
    resp=responses({200: (Category, "The category")}, ERRORS),
    operation_id="addCategoryExamples",
)
def add_examples(name: str) -> Response:
    """More (counter-)examples: refit and re-sort

    Library photos by sha256, or uploads (multipart).
    """
    _, pos, neg = _request_examples(ExamplesBody)
    if not pos and not neg:
        raise ProblemError.bad_parameter("examples", "give 'examples' or 'counter_examples'")
    return jsonify(_with_links(_teacher().add_examples(name, pos, neg)))


@bp.post("/api/v1/categories/<string(maxlength=128):name>/corrections")
@api.validate(
    json=MembershipBody,
    resp=responses({200: (Category, "The category")}, ERRORS),
    operation_id="correctCategory",
)
def correct(name: str) -> Response:
    """A photo is (not) in the category

    Applied to the members at once; the head learns from it at the next retrain.
    """
    body: MembershipBody = json_body()
    [pid] = _example_ids([body.sha256])
    return jsonify(_with_links(_teacher().correct(name, pid, body.member)))


@bp.get("/api/v1/categories/<string(maxlength=128):name>/review")
@api.validate(
    query=ReviewQuery,
    resp=responses({200: (CategoryPhotos, "The queue")}, ERRORS),
    operation_id="categoryReview",
)
def review(name: str) -> Response:
    """Photos to label next, most uncertain first (active learning)"""
    from smartalbum.categories.query import review_items

    limit = query_args().limit
    teacher = _teacher()
    with teacher.factory() as s:
        items = review_items(teacher, s, name, limit=limit)
    for item in items:
        item["thumbnail"] = f"/api/v1/photos/{item['photo_id']}/thumbnail"
    return jsonify({"photos": items})


@bp.get("/api/v1/categories/<string(maxlength=128):name>/versions")
@api.validate(
    resp=responses({200: (CategoryVersions, "Versions, oldest first")}, ERRORS),
    operation_id="categoryVersions",
)
def versions(name: str) -> Response:
    """The head versions of a category"""
    from smartalbum.categories import store

    with catalog_factory()() as s:
        rows = [store.version_dict(v) for v in store.versions(s, store.get_category(s, name))]
    return jsonify({"versions": rows})


@bp.post("/api/v1/categories/<string(maxlength=128):name>/versions/<int:version>/restore")
@api.validate(
    resp=responses({200: (Category, "The category")}, ERRORS),
    operation_id="restoreCategoryVersion",
)
def restore(name: str, version: int) -> Response:
    """Make a head version active again"""
    return jsonify(_with_links(_teacher().restore(name, version)))


@bp.get("/api/v1/categories/<string(maxlength=128):name>/export")
@api.validate(
    resp=responses({200: (CategoryExport, "Head and examples by sha256")}, ERRORS),
    operation_id="exportCategory",
)
def export(name: str) -> Response:
    """The category as a small JSON file"""
    from smartalbum.categories import store

    with catalog_factory()() as s:
        doc = store.export_category(s, name)
    resp = jsonify(doc)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in doc["name"])[:60]
    resp.headers["Content-Disposition"] = f'attachment; filename="{safe or "category"}.json"'
    return resp


@bp.post("/api/v1/categories/<string(maxlength=128):name>/grow")
@api.validate(resp=responses({202: QUEUED}, ERRORS), operation_id="growCategory")
def grow(name: str) -> tuple[Response, int, dict[str, str]]:
    """Pseudo-label confident photos (a job)

    Kept only when it helps on held-back labels; the job's result says so.
    """
    from smartalbum.categories import store

    with catalog_factory()() as s:
        store.get_category(s, name)
    return _submit("grow", [name])


@bp.post("/api/v1/retrain")
@api.validate(json=RetrainBody, resp=responses({202: QUEUED}, ERRORS), operation_id="retrain")
def retrain() -> tuple[Response, int, dict[str, str]]:
    """Retrain categories from examples and corrections (a job)

    ``names`` (default: every category). A new head replaces the old only when at least
    as good on a held-back part of the user's labels; the job's result has the
    before/after report per category.
    """
    from smartalbum.categories import store

    body = getattr(request, "context", None) and request.context.json  # type: ignore[attr-defined]
    names = body.names if body is not None else []
    with catalog_factory()() as s:
        for n in names:
            store.get_category(s, n)
    return _submit("retrain", names)


@bp.get("/api/v1/photos/<int:photo_id>/explain")
@api.validate(
    query=ExplainQuery,
    resp=responses(
        {200: (Explanation, "The photo with the heat-map (PNG), or the map as JSON")},
        (*ERRORS, 501),
    ),
    operation_id="explainPhoto",
)
def explain(photo_id: int) -> Response:
    """Heat-map of where the model looked

    ``category=NAME`` (or ``head=NAME``, default the app's head); ``format=png`` (the
    photo with a heat-map overlay) or ``json`` (the map as numbers). Grad-CAM over the
    backbone's last feature map (for a linear head, the class activation map), computed
    on demand: one backbone run.
    """
    from smartalbum.categories import store
    from smartalbum.categories.explain import overlay_png
    from smartalbum.imaging.decode import load_photo
    from smartalbum.imaging.errors import PhotoError
    from smartalbum.library.schema import Photo

    args: ExplainQuery = query_args()
    fmt = args.format
    state = get_state()
    if photo_id > MAX_PHOTO_ID:
        raise ProblemError(404, "Not Found", f"no photo {photo_id}", code="photo_not_found")
    from smartalbum.categories.query import paths_of

    with catalog_factory()() as s:
        if s.get(Photo, photo_id) is None:
            raise ProblemError(404, "Not Found", f"no photo {photo_id}", code="photo_not_found")
        path = paths_of(s, [photo_id]).get(photo_id)
        if args.category:
            active = store.active_version(s, store.get_category(s, args.category))
            if active is None:
                raise ProblemError(409, "Conflict", "the category has no head yet", code="no_head")
            head = store.head_of(active)
        else:
            try:
                head = state.engine.head(args.head or state.default_head)
            except KeyError as exc:
                detail = str(exc.args[0])
                raise ProblemError(400, "Bad Request", detail, code="unknown_head") from None
    if path is None or not Path(path).is_file():
        # a file the catalog keeps (an example uploaded to another node): its bytes
        from smartalbum.library.stored_files import photo_bytes

        path = photo_bytes(catalog_factory(), photo_id) or path
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
                "region": dict(zip("xywh", (round(v, 6) for v in result["region"]), strict=True)),
            }
        )
    resp = Response(overlay_png(image, result["map"], region=result["region"]), mimetype="image/png")
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
