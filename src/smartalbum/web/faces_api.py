"""People over HTTP: list and correct people, a photo's faces, face thumbnails, scan and
re-cluster jobs; and the people page (plus face boxes on the gallery's photo page).

Every correction is one transaction through :mod:`smartalbum.faces.people` (the CLI's code
path), and its typed errors become problem documents (404 unknown person/face, 400 a bad
correction, 409 face processing switched off). Scanning and re-clustering are background
jobs (kinds ``faces`` and ``faces_recluster``): 202 with the job, progress at
``/api/v1/jobs/<id>``.

Face thumbnails are crops of the original (decoded at 1024 px), kept on disk under
``<data_dir>/faces/thumbnails`` named by a hash of (photo, box) — never stale, and deleted
with every other face datum by the purge.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, send_file
from sqlalchemy import select

from smartalbum.atomic import atomic_open
from smartalbum.faces.errors import FaceError, FacesDisabledError
from smartalbum.web.library_api import catalog_factory
from smartalbum.web.openapi import error_responses, json_response, ref
from smartalbum.web.problems import ProblemError
from smartalbum.web.state import get_state

bp = Blueprint("faces_api", __name__)

MAX_ID = 2**31 - 1
MAX_ITEMS = 1000
SHA256 = re.compile(r"^[0-9a-f]{64}$")
THUMB_SIDE = 160
THUMB_MAX_AGE = 365 * 24 * 3600


# --------------------------------------------------------------------------- helpers


def _bad(detail: str, code: str = "bad_request") -> ProblemError:
    return ProblemError(400, "Bad Request", detail, code=code)


def _problem(exc: FaceError) -> ProblemError:
    titles = {404: "Not Found", 409: "Conflict"}
    return ProblemError(exc.status, titles.get(exc.status, "Bad Request"), str(exc), code=exc.code)


def _no_params() -> None:
    if request.args:
        raise _bad(f"unknown parameter(s): {', '.join(sorted(request.args))}")


def _body(allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise _bad("send a JSON object", "invalid_body")
    unknown = set(body) - allowed
    if unknown:
        raise _bad(f"unknown field(s): {', '.join(sorted(unknown))}", "invalid_body")
    missing = required - set(body)
    if missing:
        raise _bad(f"missing field(s): {', '.join(sorted(missing))}", "invalid_body")
    return body


def _ids(value: Any, name: str) -> list[int]:
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_ITEMS
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_ID for v in value
        )
    ):
        raise _bad(f"{name!r} must be a list of 1 to {MAX_ITEMS} ids", "invalid_body")
    return value


def _person_or_404(s: Any, person_id: int) -> Any:
    from smartalbum.library.schema_faces import Person

    person = s.get(Person, person_id) if person_id <= MAX_ID else None
    if person is None:
        raise ProblemError(404, "Not Found", f"no person {person_id}", code="no_person")
    return person


def _person_json(s: Any, person: Any, faces_limit: int = 12) -> dict[str, Any]:
    from smartalbum.faces import people as ppl

    faces = ppl.faces_of_person(s, person.id)
    out = ppl.person_to_dict(person, len(faces), len({f.photo_id for f in faces}))
    out["face_list"] = [_face_json(f) for f in faces[:faces_limit]]
    return out


def _face_json(face: Any) -> dict[str, Any]:
    d = face.to_dict()
    d["thumbnail"] = f"/api/v1/faces/{face.id}/thumbnail"
    return d


def _job_response(kind: str, params: dict[str, Any]) -> tuple[Response, int, dict[str, str]]:
    from smartalbum.jobs import store
    from smartalbum.jobs.submit import submit_job

    settings = get_state().settings
    if not settings.faces.enabled:
        raise _problem(FacesDisabledError("face processing is switched off"))
    factory = catalog_factory()
    job_id = submit_job(settings, factory, kind, params)
    job = store.get_job(factory, job_id)
    return jsonify(store.job_to_dict(job)), 202, {"Location": f"/api/v1/jobs/{job_id}"}


# --------------------------------------------------------------------------- pages


@bp.get("/people")
def people_page() -> str:
    """People: face thumbnails per person; name, merge, move and reject faces."""
    return render_template("people.html", person_id="")


@bp.get("/people/<int:person_id>")
def person_page(person_id: int) -> str:
    """One person with every face."""
    return render_template("people.html", person_id=person_id)


# --------------------------------------------------------------------------- people


@bp.get("/api/v1/people")
def list_people() -> Response:
    """Every person (named first) with face and photo counts and a few faces."""
    from smartalbum.faces import people as ppl

    _no_params()
    with catalog_factory()() as s:
        rows = ppl.list_people(s)
        for d in rows:
            d["face_list"] = [_face_json(f) for f in ppl.faces_of_person(s, d["id"], limit=6)]
        unassigned = [_face_json(f) for f in ppl.faces_of_person(s, None, limit=60)]
    return jsonify(
        {
            "people": rows,
            "unassigned": unassigned,
            "enabled": get_state().settings.faces.enabled,
        }
    )


@bp.post("/api/v1/people")
def create_person() -> tuple[Response, int]:
    """A new person from faces (moved out of wherever they were); optional name."""
    from smartalbum.faces import people as ppl
    from smartalbum.library.db import session_scope

    body = _body({"faces", "name"}, {"faces"})
    faces = _ids(body["faces"], "faces")
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise _bad("'name' must be a string", "invalid_body")
    try:
        with session_scope(catalog_factory()) as s:
            person = ppl.move_faces(s, faces, None)
            if name is not None:
                ppl.name_person(s, person, name)
            s.flush()
            out = _person_json(s, person)
    except FaceError as exc:
        raise _problem(exc) from None
    return jsonify(out), 201


@bp.get("/api/v1/people/<int:person_id>")
def get_person(person_id: int) -> Response:
    """A person with all their faces (photo, box, score, thumbnail URL)."""
    _no_params()
    with catalog_factory()() as s:
        person = _person_or_404(s, person_id)
        return jsonify(_person_json(s, person, faces_limit=MAX_ITEMS))


@bp.patch("/api/v1/people/<int:person_id>")
def update_person(person_id: int) -> Response:
    """Name a person (their faces are confirmed) and/or set their birth date (null clears)."""
    from smartalbum.faces import people as ppl
    from smartalbum.library.db import session_scope

    body = _body({"name", "birth_date"})
    if not body:
        raise _bad("give 'name' and/or 'birth_date'", "invalid_body")
    name = body.get("name")
    if "name" in body and not isinstance(name, str):
        raise _bad("'name' must be a string", "invalid_body")
    born: date | None = None
    if body.get("birth_date") is not None:
        try:
            born = date.fromisoformat(str(body["birth_date"]))
        except ValueError:
            raise _bad("'birth_date' must be YYYY-MM-DD or null", "invalid_body") from None
    try:
        with session_scope(catalog_factory()) as s:
            person = _person_or_404(s, person_id)
            if "name" in body:
                ppl.name_person(s, person, name)  # type: ignore[arg-type]
            if "birth_date" in body:
                ppl.set_birth_date(s, person, born)
            s.flush()
            return jsonify(_person_json(s, person))
    except FaceError as exc:
        raise _problem(exc) from None


@bp.post("/api/v1/people/<int:person_id>/merge")
def merge_people(person_id: int) -> Response:
    """Merge ``people`` into this person."""
    from smartalbum.faces import people as ppl
    from smartalbum.library.db import session_scope

    others = _ids(_body({"people"}, {"people"})["people"], "people")
    try:
        with session_scope(catalog_factory()) as s:
            keep = _person_or_404(s, person_id)
            merged = ppl.merge_people(s, keep, [_person_or_404(s, o) for o in others])
            s.flush()
            return jsonify(_person_json(s, merged))
    except FaceError as exc:
        raise _problem(exc) from None


@bp.post("/api/v1/people/<int:person_id>/faces")
def move_faces(person_id: int) -> Response:
    """Move ``faces`` to this person (each is rejected from the person it leaves)."""
    from smartalbum.faces import people as ppl
    from smartalbum.library.db import session_scope

    faces = _ids(_body({"faces"}, {"faces"})["faces"], "faces")
    try:
        with session_scope(catalog_factory()) as s:
            person = ppl.move_faces(s, faces, _person_or_404(s, person_id))
            s.flush()
            return jsonify(_person_json(s, person))
    except FaceError as exc:
        raise _problem(exc) from None


@bp.post("/api/v1/people/<int:person_id>/rejections")
def reject_faces(person_id: int) -> Response:
    """ "Not this person": ``faces`` never belong to this person again."""
    from smartalbum.faces import people as ppl
    from smartalbum.library.db import session_scope

    faces = _ids(_body({"faces"}, {"faces"})["faces"], "faces")
    try:
        with session_scope(catalog_factory()) as s:
            person = _person_or_404(s, person_id)
            ppl.reject_faces(s, faces, person)
            s.flush()
            return jsonify(_person_json(s, person))
    except FaceError as exc:
        raise _problem(exc) from None


@bp.get("/api/v1/people/photos")
def photos_of() -> Response:
    """Photos showing every given ``person`` (repeat it: photos of X and Y)."""
    from smartalbum.faces import people as ppl
    from smartalbum.library.schema import FILE_PRESENT, File, Photo

    unknown = set(request.args) - {"person"}
    if unknown:
        raise _bad(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    raw = request.args.getlist("person")
    if not 1 <= len(raw) <= 10 or not all(re.fullmatch(r"\d{1,9}", r) for r in raw):
        raise _bad("give 1 to 10 'person' ids")
    with catalog_factory()() as s:
        ids = [_person_or_404(s, int(r)).id for r in raw]
        photo_ids = ppl.photos_of(s, ids)
        items: dict[int, dict[str, Any]] = {}
        for start in range(0, len(photo_ids), 500):
            for pid, sha, taken, path in s.execute(
                select(Photo.id, Photo.sha256, Photo.taken_at, File.path)
                .outerjoin(File, (File.photo_id == Photo.id) & (File.status == FILE_PRESENT))
                .where(Photo.id.in_(photo_ids[start : start + 500]))
                .order_by(Photo.id, File.id)
            ):
                items.setdefault(
                    pid,
                    {
                        "id": pid,
                        "sha256": sha,
                        "taken_at": taken.isoformat() if taken else None,
                        "path": path,
                    },
                )
    return jsonify({"people": ids, "photos": list(items.values())})


@bp.post("/api/v1/people/scan")
def scan() -> tuple[Response, int, dict[str, str]]:
    """Start a ``faces`` job: scan photos not scanned yet (all, or under ``paths``)."""
    body = _body({"paths", "rescan"})
    params: dict[str, Any] = {}
    if "paths" in body:
        paths = body["paths"]
        if (
            not isinstance(paths, list)
            or len(paths) > 100
            or not all(isinstance(p, str) and p and "\x00" not in p for p in paths)
        ):
            raise _bad("'paths' must be a list of up to 100 absolute server paths", "invalid_body")
        if not all(os.path.isabs(p) for p in paths):
            raise _bad("'paths' must be absolute server paths", "bad_path")
        params["paths"] = paths
    if "rescan" in body:
        if not isinstance(body["rescan"], bool):
            raise _bad("'rescan' must be true or false", "invalid_body")
        params["rescan"] = body["rescan"]
    return _job_response("faces", params)


@bp.post("/api/v1/people/recluster")
def recluster() -> tuple[Response, int, dict[str, str]]:
    """Start a ``faces_recluster`` job (corrections are kept)."""
    _body(set())
    return _job_response("faces_recluster", {})


@bp.post("/api/v1/people/purge")
def purge() -> Response:
    """Delete every face, person, name and correction, and the face thumbnails."""
    from smartalbum.faces.service import purge_all

    body = _body({"confirm"}, {"confirm"})
    if body["confirm"] is not True:
        raise _bad('send {"confirm": true} to delete all face data', "invalid_body")
    counts = purge_all(catalog_factory(), get_state().settings.data_dir)
    return jsonify({"deleted": counts})


# --------------------------------------------------------------------------- faces


def _photo_id(s: Any, ref: str) -> int | None:
    from smartalbum.library.schema import Photo

    if re.fullmatch(r"\d{1,9}", ref):
        return s.scalar(select(Photo.id).where(Photo.id == int(ref)))
    if SHA256.match(ref):
        return s.scalar(select(Photo.id).where(Photo.sha256 == ref))
    return None


@bp.get("/api/v1/photos/<photo_ref>/faces")
def photo_faces(photo_ref: str) -> Response:
    """A photo's faces (by photo id or SHA-256): box and landmarks relative to the upright
    photo, score, person (id and name)."""
    from smartalbum.faces import people as ppl
    from smartalbum.library.schema import Photo
    from smartalbum.library.schema_faces import FaceScan, Person

    _no_params()
    with catalog_factory()() as s:
        photo_id = _photo_id(s, photo_ref)
        if photo_id is None:
            raise ProblemError(
                404, "Not Found", f"no photo {photo_ref!r} in the catalog", code="photo_not_found"
            )
        photo = s.get(Photo, photo_id)
        faces = ppl.faces_of_photo(s, photo_id)
        names = dict(
            s.execute(
                select(Person.id, Person.name).where(
                    Person.id.in_({f.person_id for f in faces if f.person_id})
                )
            ).all()
        )
        scanned = s.scalar(select(FaceScan.id).where(FaceScan.photo_id == photo_id)) is not None
        items = []
        for f in faces:
            d = _face_json(f)
            d["person_name"] = names.get(f.person_id)
            items.append(d)
    return jsonify(
        {
            "photo_id": photo_id,
            "sha256": photo.sha256,
            "width": photo.width,
            "height": photo.height,
            "scanned": scanned,
            "faces": items,
        }
    )


def _thumb_dir() -> Path:
    from smartalbum.faces.service import face_data_dir

    return face_data_dir(get_state().settings.data_dir) / "thumbnails"


@bp.get("/api/v1/faces/<int:face_id>/thumbnail")
def face_thumbnail(face_id: int) -> Response:
    """A JPEG crop of the face (with some margin), made once, then served from disk."""
    from smartalbum.library.schema import FILE_PRESENT, File, Photo
    from smartalbum.library.schema_faces import Face

    _no_params()
    with catalog_factory()() as s:
        row = (
            s.execute(
                select(Face.x, Face.y, Face.w, Face.h, Photo.sha256, Photo.id)
                .join(Photo, Photo.id == Face.photo_id)
                .where(Face.id == face_id)
            ).first()
            if face_id <= MAX_ID
            else None
        )
        if row is None:
            raise ProblemError(404, "Not Found", f"no face {face_id}", code="no_face")
        paths = list(
            s.scalars(
                select(File.path)
                .where(File.photo_id == row.id, File.status == FILE_PRESENT)
                .order_by(File.id)
            )
        )
    key = hashlib.sha256(f"{row.sha256}:{row.x:.5f}:{row.y:.5f}:{row.w:.5f}".encode()).hexdigest()
    target = _thumb_dir() / key[:2] / f"{key}.jpg"
    if not target.exists():
        _make_thumbnail(target, paths, row.sha256, (row.x, row.y, row.w, row.h))
    resp = send_file(target, mimetype="image/jpeg", etag=key, max_age=THUMB_MAX_AGE)
    return resp


def _make_thumbnail(
    target: Path, paths: list[str], sha256: str, box: tuple[float, float, float, float]
) -> None:
    from PIL import Image

    from smartalbum.imaging import PhotoError, load_photo

    for path in paths:
        try:
            photo = load_photo(path, max_side=1024, digest=True)
        except (PhotoError, OSError):
            continue
        if photo.facts.sha256 != sha256:
            continue
        image = photo.image
        height, width = image.shape[:2]
        x, y, w, h = box
        margin = 0.35
        left = max(0, int((x - w * margin) * width))
        top = max(0, int((y - h * margin) * height))
        right = min(width, int((x + w * (1 + margin)) * width) + 1)
        bottom = min(height, int((y + h * (1 + margin)) * height) + 1)
        crop = Image.fromarray(image[top:bottom, left:right])
        crop.thumbnail((THUMB_SIDE, THUMB_SIDE))
        with atomic_open(target) as out:
            crop.save(out, "JPEG", quality=85)
        return
    raise ProblemError(
        404, "Not Found", "no readable copy of the face's photo", code="photo_unavailable"
    )


# --------------------------------------------------------------------------- OpenAPI


def openapi_schemas() -> dict[str, Any]:
    """Component schemas of the people API (merged into web/openapi.py's document)."""
    num = {"type": "number"}
    nullable_int = {"type": "integer", "nullable": True}
    nullable_str = {"type": "string", "nullable": True}
    face = {
        "type": "object",
        "required": ["id", "photo_id", "sha256", "box", "landmarks", "score", "person_id"],
        "properties": {
            "id": {"type": "integer"},
            "photo_id": {"type": "integer"},
            "sha256": {"type": "string"},
            "path": {**nullable_str, "description": "a present copy of the photo"},
            "box": {
                "type": "object",
                "description": "relative to the upright photo (0..1)",
                "required": ["x", "y", "w", "h"],
                "properties": {"x": num, "y": num, "w": num, "h": num},
            },
            "landmarks": {
                "type": "array",
                "description": "5 points [x, y] relative to the photo (eye corners, nose)",
                "items": {"type": "array", "items": num},
            },
            "score": {**num, "description": "HOG detection score (higher: surer)"},
            "person_id": nullable_int,
            "person_name": nullable_str,
            "assigned_by": {**nullable_str, "description": "auto, user, or null"},
            "thumbnail": {"type": "string", "description": "URL of a JPEG crop"},
        },
    }
    person = {
        "type": "object",
        "required": ["id", "name", "birth_date", "faces", "photos"],
        "properties": {
            "id": {"type": "integer"},
            "name": nullable_str,
            "birth_date": {**nullable_str, "format": "date"},
            "faces": {"type": "integer"},
            "photos": {"type": "integer"},
            "face_list": {"type": "array", "items": {"$ref": "#/components/schemas/Face"}},
        },
    }
    return {
        "Face": face,
        "Person": person,
        "PeopleList": {
            "type": "object",
            "required": ["people", "unassigned", "enabled"],
            "properties": {
                "people": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}},
                "unassigned": {"type": "array", "items": {"$ref": "#/components/schemas/Face"}},
                "enabled": {"type": "boolean"},
            },
        },
        "PhotoFaces": {
            "type": "object",
            "required": ["photo_id", "sha256", "width", "height", "scanned", "faces"],
            "properties": {
                "photo_id": {"type": "integer"},
                "sha256": {"type": "string"},
                "width": {"type": "integer"},
                "height": {"type": "integer"},
                "scanned": {"type": "boolean"},
                "faces": {"type": "array", "items": {"$ref": "#/components/schemas/Face"}},
            },
        },
        "PeoplePhotos": {
            "type": "object",
            "required": ["people", "photos"],
            "properties": {
                "people": {"type": "array", "items": {"type": "integer"}},
                "photos": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "sha256": {"type": "string"},
                            "taken_at": nullable_str,
                            "path": nullable_str,
                        },
                    },
                },
            },
        },
    }


def openapi_paths(problem: Any, guarded: dict[str, Any], keyed: bool) -> dict[str, Any]:
    """The people API's operations; ``problem(description)`` makes a problem response."""

    def errors(*statuses: int) -> dict[str, Any]:
        text = {
            400: "A bad body or parameter, or a correction that cannot be made.",
            401: "Missing or wrong X-API-Key.",
            404: "No such person, face or photo.",
            409: "Face processing is switched off (SMARTALBUM_FACES__ENABLED=false).",
            429: "Rate limited per client address.",
            503: "The catalog is not available.",
        }
        return error_responses(problem, text, statuses, keyed)

    def body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": False,
            "properties": properties,
        }
        if required:
            schema["required"] = required
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    ids = {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_ITEMS,
        "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }
    person_id = {
        "name": "person_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
    job = {
        "202": {
            "description": "The job, queued (progress at /api/v1/jobs/{id})",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}},
            "headers": {"Location": {"schema": {"type": "string"}}},
        }
    }
    return {
        "/api/v1/people": {
            "get": {
                "operationId": "listPeople",
                "summary": "People (named first) with counts and a few faces; faces of nobody",
                "responses": {"200": json_response("People", ref("PeopleList")), **errors(400, 401, 429, 503)},
                **guarded,
            },
            "post": {
                "operationId": "createPerson",
                "summary": "A new person from faces (moved out of their people); optional name",
                "requestBody": body(
                    {"faces": ids, "name": {"type": "string", "minLength": 1, "maxLength": 200}},
                    ["faces"],
                ),
                "responses": {
                    "201": json_response("The new person", ref("Person")),
                    **errors(400, 401, 404, 429, 503),
                },
                **guarded,
            },
        },
        "/api/v1/people/{person_id}": {
            "get": {
                "operationId": "getPerson",
                "summary": "One person with every face (photo, box, score, thumbnail)",
                "parameters": [person_id],
                "responses": {"200": json_response("The person", ref("Person")), **errors(400, 401, 404, 429, 503)},
                **guarded,
            },
            "patch": {
                "operationId": "updatePerson",
                "summary": "Name a person (faces confirmed) and/or set a birth date",
                "description": "A birth date takes the person off photos taken before it, "
                "now and in every later grouping; null clears it.",
                "parameters": [person_id],
                "requestBody": body(
                    {
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "birth_date": {"type": "string", "format": "date", "nullable": True},
                    },
                    [],
                ),
                "responses": {"200": json_response("The person", ref("Person")), **errors(400, 401, 404, 429, 503)},
                **guarded,
            },
        },
        "/api/v1/people/{person_id}/merge": {
            "post": {
                "operationId": "mergePeople",
                "summary": "Merge other people into this one",
                "parameters": [person_id],
                "requestBody": body({"people": ids}, ["people"]),
                "responses": {
                    "200": json_response("The merged person", ref("Person")),
                    **errors(400, 401, 404, 429, 503),
                },
                **guarded,
            }
        },
        "/api/v1/people/{person_id}/faces": {
            "post": {
                "operationId": "moveFaces",
                "summary": "Move faces to this person (never back to the one they left)",
                "parameters": [person_id],
                "requestBody": body({"faces": ids}, ["faces"]),
                "responses": {"200": json_response("The person", ref("Person")), **errors(400, 401, 404, 429, 503)},
                **guarded,
            }
        },
        "/api/v1/people/{person_id}/rejections": {
            "post": {
                "operationId": "rejectFaces",
                "summary": "Not this person: the faces never belong to them again",
                "parameters": [person_id],
                "requestBody": body({"faces": ids}, ["faces"]),
                "responses": {"200": json_response("The person", ref("Person")), **errors(400, 401, 404, 429, 503)},
                **guarded,
            }
        },
        "/api/v1/people/photos": {
            "get": {
                "operationId": "photosOfPeople",
                "summary": "Photos showing every given person (photos of X and Y)",
                "parameters": [
                    {
                        "name": "person",
                        "in": "query",
                        "required": True,
                        "style": "form",
                        "explode": True,
                        "schema": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 10,
                            "items": {"type": "integer", "minimum": 0, "maximum": 999999999},
                        },
                    }
                ],
                "responses": {
                    "200": json_response("The photos", ref("PeoplePhotos")),
                    **errors(400, 401, 404, 429, 503),
                },
                **guarded,
            }
        },
        "/api/v1/people/scan": {
            "post": {
                "operationId": "scanFaces",
                "summary": "Start a job scanning photos for faces (not scanned yet)",
                "requestBody": body(
                    {
                        "paths": {
                            "type": "array",
                            "maxItems": 100,
                            "items": {"type": "string", "minLength": 1},
                            "description": "absolute server folders or files already indexed "
                            "(default: every photo of the catalog)",
                        },
                        "rescan": {"type": "boolean"},
                    },
                    [],
                ),
                "responses": {**job, **errors(400, 401, 409, 429, 503)},
                **guarded,
            }
        },
        "/api/v1/people/recluster": {
            "post": {
                "operationId": "reclusterFaces",
                "summary": "Start a job re-grouping every face (corrections are kept)",
                "requestBody": body({}, []),
                "responses": {**job, **errors(400, 401, 409, 429, 503)},
                **guarded,
            }
        },
        "/api/v1/people/purge": {
            "post": {
                "operationId": "purgeFaces",
                "summary": "Delete every face, person, name, correction and face thumbnail",
                "requestBody": body({"confirm": {"type": "boolean", "enum": [True]}}, ["confirm"]),
                "responses": {
                    "200": {
                        "description": "What was deleted",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **errors(400, 401, 429, 503),
                },
                **guarded,
            }
        },
        "/api/v1/photos/{photo_ref}/faces": {
            "get": {
                "operationId": "photoFaces",
                "summary": "A photo's faces (by photo id or SHA-256), with their people",
                "parameters": [
                    {
                        "name": "photo_ref",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                        "description": "photo id or 64-hex SHA-256",
                    }
                ],
                "responses": {
                    "200": json_response("The faces", ref("PhotoFaces")),
                    **errors(400, 401, 404, 429, 503),
                },
                **guarded,
            }
        },
        "/api/v1/faces/{face_id}/thumbnail": {
            "get": {
                "operationId": "faceThumbnail",
                "summary": "A JPEG crop of one face",
                "parameters": [
                    {
                        "name": "face_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "JPEG",
                        "content": {
                            "image/jpeg": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                    **errors(400, 401, 404, 429, 503),
                },
                **guarded,
            }
        },
    }
