"""People over HTTP: list and correct people, a photo's faces, face thumbnails, scan and
re-cluster jobs; and the people page (plus face boxes on the gallery's photo page).

Every correction is one transaction through :mod:`smartalbum.faces.people` (the CLI's code
path), and its typed errors become problem documents (404 unknown person/face, 400 a bad
correction, 409 face processing switched off). Scanning and re-clustering are background
jobs (kinds ``faces`` and ``faces_recluster``): 202 with the job, progress at
``/api/v1/jobs/<id>``.

Face thumbnails are crops cut when a photo is scanned (else from the original decoded at
1024 px, once), kept on disk under ``<data_dir>/faces/thumbnails`` named by a hash of
(photo, box) — never stale, and deleted with every other face datum by the purge. Pages
showing many faces fetch them as one contact sheet (``/api/v1/faces/sheet``), not one
request each.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, send_file
from PIL import ImageOps
from sqlalchemy import select

from smartalbum.faces.errors import FacesDisabledError
from smartalbum.web.contract import api, json_body, query_args, responses
from smartalbum.web.library_api import catalog_factory
from smartalbum.web.models.actions import DismissBody, Dismissed, MergeUndone
from smartalbum.web.models.common import JPEG, NoQuery
from smartalbum.web.models.faces import (
    EmptyBody,
    FacesBody,
    FaceSheetQuery,
    MergeBody,
    NewPersonBody,
    PeopleList,
    PeoplePhotos,
    PeoplePhotosQuery,
    Person,
    PersonBody,
    PhotoFaces,
    PurgeBody,
    Purged,
    ScanBody,
)
from smartalbum.web.models.jobs import Job
from smartalbum.web.problems import ProblemError
from smartalbum.web.state import get_state

bp = Blueprint("faces_api", __name__)

MAX_ID = 2**31 - 1
MAX_ITEMS = 1000
PEOPLE_ERRORS = (400, 404, 503)
JOB_RESPONSES = responses({202: (Job, "The job, queued (progress at Location)")}, (400, 409, 503))
SHA256 = re.compile(r"^[0-9a-f]{64}$")
THUMB_MAX_AGE = 365 * 24 * 3600
SHEET_CELL = 96  # px: the people page shows faces at 88 px
SHEET_COLUMNS = 10
SHEET_GREY = (200, 200, 200)

Box = tuple[float, float, float, float]


# --------------------------------------------------------------------------- helpers


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


def _changed_person(change: Callable[[Any], Any]) -> dict[str, Any]:
    """Run ``change(session)`` in one transaction and give the JSON of the person it returns
    (read after a flush, so it shows the change)."""
    from smartalbum.library.db import session_scope

    with session_scope(catalog_factory()) as s:
        person = change(s)
        s.flush()
        return _person_json(s, person)


def _face_json(face: Any) -> dict[str, Any]:
    d = face.to_dict()
    d["thumbnail"] = f"/api/v1/faces/{face.id}/thumbnail"
    return d


def _job_response(kind: str, params: dict[str, Any]) -> tuple[Response, int, dict[str, str]]:
    from smartalbum.jobs import store
    from smartalbum.jobs.submit import submit_job

    settings = get_state().settings
    if not settings.faces.enabled:
        raise FacesDisabledError("face processing is switched off")
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
@api.validate(
    query=NoQuery,
    resp=responses({200: (PeopleList, "People and unassigned faces")}, PEOPLE_ERRORS),
    operation_id="listPeople",
)
def list_people() -> Response:
    """People (named first) with counts and a few faces; faces of nobody"""
    from smartalbum.faces import people as ppl

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
@api.validate(
    query=NoQuery,
    json=NewPersonBody,
    resp=responses({201: (Person, "The new person")}, PEOPLE_ERRORS),
    operation_id="createPerson",
)
def create_person() -> tuple[Response, int]:
    """A new person from faces (moved out of their people); optional name"""
    from smartalbum.faces import people as ppl

    body: NewPersonBody = json_body()

    def create(s: Any) -> Any:
        person = ppl.move_faces(s, body.faces, None)
        if body.name is not None:
            ppl.name_person(s, person, body.name)
        return person

    return jsonify(_changed_person(create)), 201


@bp.get("/api/v1/people/<int:person_id>")
@api.validate(
    query=NoQuery,
    resp=responses({200: (Person, "The person")}, PEOPLE_ERRORS),
    operation_id="getPerson",
)
def get_person(person_id: int) -> Response:
    """One person with every face (photo, box, score, thumbnail)"""
    with catalog_factory()() as s:
        person = _person_or_404(s, person_id)
        return jsonify(_person_json(s, person, faces_limit=MAX_ITEMS))


@bp.patch("/api/v1/people/<int:person_id>")
@api.validate(
    query=NoQuery,
    json=PersonBody,
    resp=responses({200: (Person, "The person")}, PEOPLE_ERRORS),
    operation_id="updatePerson",
)
def update_person(person_id: int) -> Response:
    """Name a person (faces confirmed) and/or set a birth date

    Naming a person confirms their faces; a null birth date clears it.
    """
    from smartalbum.faces import people as ppl

    body: PersonBody = json_body()
    given = body.model_fields_set
    if not given:
        raise ProblemError.bad_parameter("body", "give 'name' and/or 'birth_date'")

    def update(s: Any) -> Any:
        person = _person_or_404(s, person_id)
        if "name" in given:
            ppl.name_person(s, person, body.name)
        if "birth_date" in given:
            ppl.set_birth_date(s, person, body.birth_date)
        return person

    return jsonify(_changed_person(update))


@bp.post("/api/v1/people/<int:person_id>/merge")
@api.validate(
    query=NoQuery,
    json=MergeBody,
    resp=responses({200: (Person, "The person, merged")}, PEOPLE_ERRORS),
    operation_id="mergePeople",
)
def merge_people(person_id: int) -> Response:
    """Merge other people into this one"""
    from smartalbum.faces import people as ppl

    body: MergeBody = json_body()

    def merge(s: Any) -> Any:
        keep = _person_or_404(s, person_id)
        return ppl.merge_people(s, keep, [_person_or_404(s, o) for o in body.people])

    person = _changed_person(merge)
    with catalog_factory()() as s:
        done = ppl.latest_merge(s, person_id)
        person["merge"] = done.id if done is not None else None
    return jsonify(person)


@bp.post("/api/v1/people/merges/<int:merge_id>/undo")
@api.validate(
    query=NoQuery,
    resp=responses({200: (MergeUndone, "The merged people, back")}, PEOPLE_ERRORS),
    operation_id="undoMerge",
)
def undo_merge(merge_id: int) -> Response:
    """Undo a merge: the people come back, each face with its earlier person"""
    from smartalbum.faces import people as ppl
    from smartalbum.library.db import session_scope

    if merge_id > MAX_ID:
        raise ProblemError(404, "Not Found", f"no merge {merge_id}", code="no_merge")
    with session_scope(catalog_factory()) as s:
        people, faces = ppl.undo_merge(s, merge_id)
    return jsonify(merge=merge_id, people=people, faces=faces)


@bp.post("/api/v1/faces/dismissals")
@api.validate(
    query=NoQuery,
    json=DismissBody,
    resp=responses({200: (Dismissed, "How many faces were dismissed")}, PEOPLE_ERRORS),
    operation_id="dismissFaces",
)
def dismiss_faces() -> Response:
    """Not a face: hide these detections everywhere (kept through every re-grouping)"""
    from smartalbum.faces import people as ppl
    from smartalbum.library.db import session_scope

    body: DismissBody = json_body()
    with session_scope(catalog_factory()) as s:
        count = ppl.dismiss_faces(s, body.faces)
    return jsonify(dismissed=count)


@bp.post("/api/v1/people/<int:person_id>/faces")
@api.validate(
    query=NoQuery,
    json=FacesBody,
    resp=responses({200: (Person, "The person")}, PEOPLE_ERRORS),
    operation_id="moveFaces",
)
def move_faces(person_id: int) -> Response:
    """Move faces to this person (never back to the one they left)

    Each face is rejected from the person it leaves.
    """
    from smartalbum.faces import people as ppl

    body: FacesBody = json_body()
    return jsonify(
        _changed_person(lambda s: ppl.move_faces(s, body.faces, _person_or_404(s, person_id)))
    )


@bp.post("/api/v1/people/<int:person_id>/rejections")
@api.validate(
    query=NoQuery,
    json=FacesBody,
    resp=responses({200: (Person, "The person")}, PEOPLE_ERRORS),
    operation_id="rejectFaces",
)
def reject_faces(person_id: int) -> Response:
    """Not this person: the faces never belong to them again"""
    from smartalbum.faces import people as ppl

    body: FacesBody = json_body()

    def reject(s: Any) -> Any:
        person = _person_or_404(s, person_id)
        ppl.reject_faces(s, body.faces, person)
        return person

    return jsonify(_changed_person(reject))


@bp.get("/api/v1/people/photos")
@api.validate(
    query=PeoplePhotosQuery,
    resp=responses({200: (PeoplePhotos, "The photos")}, PEOPLE_ERRORS),
    operation_id="photosOfPeople",
)
def photos_of() -> Response:
    """Photos showing every given person (photos of X and Y)"""
    from smartalbum.faces import people as ppl
    from smartalbum.library.schema import FILE_PRESENT, File, Photo

    args: PeoplePhotosQuery = query_args()
    with catalog_factory()() as s:
        ids = [_person_or_404(s, r).id for r in args.person]
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
@api.validate(query=NoQuery, json=ScanBody, resp=JOB_RESPONSES, operation_id="scanFaces")
def scan() -> tuple[Response, int, dict[str, str]]:
    """Start a job scanning photos for faces (not scanned yet)

    All photos, or those under ``paths``.
    """
    body: ScanBody = json_body()
    params: dict[str, Any] = body.model_dump(exclude_unset=True)
    if body.paths is not None and not all(os.path.isabs(p) for p in body.paths):
        raise ProblemError(
            400, "Bad Request", "'paths' must be absolute server paths", code="bad_path"
        )
    return _job_response("faces", params)


@bp.post("/api/v1/people/recluster")
@api.validate(query=NoQuery, json=EmptyBody, resp=JOB_RESPONSES, operation_id="reclusterFaces")
def recluster() -> tuple[Response, int, dict[str, str]]:
    """Start a job re-grouping every face (corrections are kept)"""
    return _job_response("faces_recluster", {})


@bp.post("/api/v1/people/purge")
@api.validate(
    query=NoQuery,
    json=PurgeBody,
    resp=responses({200: (Purged, "What was deleted")}, (400, 503)),
    operation_id="purgeFaces",
)
def purge() -> Response:
    """Delete every face, person, name, correction and face thumbnail"""
    from smartalbum.faces.service import purge_all

    json_body()  # {"confirm": true}: the model refuses anything else
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
@api.validate(
    query=NoQuery,
    resp=responses({200: (PhotoFaces, "The faces")}, PEOPLE_ERRORS),
    operation_id="photoFaces",
)
def photo_faces(photo_ref: str) -> Response:
    """A photo's faces (by photo id or SHA-256), with their people

    Box and landmarks relative to the upright photo, score, person (id and name).
    """
    from smartalbum.faces import people as ppl
    from smartalbum.library.schema import Photo
    from smartalbum.library.schema_faces import FaceScan, Person

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
    from smartalbum.faces.service import thumbnail_dir

    return thumbnail_dir(get_state().settings.data_dir)


def _face_sources(s: Any, face_ids: list[int]) -> dict[int, tuple[str, Box, list[str]]]:
    """Each known face's (photo SHA-256, box, present copies' paths), in two queries."""
    from smartalbum.library.schema import FILE_PRESENT, File, Photo
    from smartalbum.library.schema_faces import Face

    wanted = [i for i in set(face_ids) if i <= MAX_ID]
    rows = s.execute(
        select(Face.id, Face.x, Face.y, Face.w, Face.h, Photo.sha256, Photo.id.label("pid"))
        .join(Photo, Photo.id == Face.photo_id)
        .where(Face.id.in_(wanted))
    ).all()
    paths: dict[int, list[str]] = {}
    for pid, path in s.execute(
        select(File.photo_id, File.path)
        .where(File.photo_id.in_({r.pid for r in rows}), File.status == FILE_PRESENT)
        .order_by(File.id)
    ):
        paths.setdefault(pid, []).append(path)
    return {r.id: (r.sha256, (r.x, r.y, r.w, r.h), paths.get(r.pid, [])) for r in rows}


@bp.get("/api/v1/faces/<int:face_id>/thumbnail")
@api.validate(
    query=NoQuery,
    resp=responses({200: (JPEG, "JPEG")}, PEOPLE_ERRORS),
    operation_id="faceThumbnail",
)
def face_thumbnail(face_id: int) -> Response:
    """A JPEG crop of one face

    With some margin; cut when the photo is scanned (else on first request), then served
    from disk. Pages showing many faces ask for a sheet instead (faceSheet).
    """
    from smartalbum.faces.service import ensure_thumbnail, thumbnail_key

    with catalog_factory()() as s:
        source = _face_sources(s, [face_id]).get(face_id)
    if source is None:
        raise ProblemError(404, "Not Found", f"no face {face_id}", code="no_face")
    sha256, box, paths = source
    target = ensure_thumbnail(_thumb_dir(), paths, sha256, box)
    if target is None:
        raise ProblemError(
            404, "Not Found", "no readable copy of the face's photo", code="photo_unavailable"
        )
    return send_file(
        target, mimetype="image/jpeg", etag=thumbnail_key(sha256, box), max_age=THUMB_MAX_AGE
    )


@bp.get("/api/v1/faces/sheet")
@api.validate(
    query=FaceSheetQuery,
    resp=responses(
        {200: (JPEG, "JPEG contact sheet"), 304: (None, "Not modified (If-None-Match matched)")},
        PEOPLE_ERRORS,
    ),
    operation_id="faceSheet",
)
def face_sheet() -> Response:
    """Many face crops in one JPEG: a contact sheet of square cells

    Cells of ``X-Sheet-Cell`` px, ``X-Sheet-Columns`` to a row, in the order asked; each
    crop centred on a grey cell. A face unknown (or gone, or with no readable photo) is a
    plain grey cell, so one stale id does not cost the page its other faces. ETag: the
    cells' contents (crops are never stale), so a page revisited gets ``304``.
    """
    from smartalbum.faces.service import ensure_thumbnails, thumbnail_key

    args: FaceSheetQuery = query_args()
    ids = [int(i) for i in args.ids.split(",")]
    with catalog_factory()() as s:
        sources = _face_sources(s, ids)
    keys = [thumbnail_key(*sources[i][:2]) if i in sources else "-" for i in ids]
    etag = hashlib.sha256(f"{SHEET_CELL}:{SHEET_COLUMNS}:{','.join(keys)}".encode()).hexdigest()
    headers = {
        "X-Sheet-Cell": str(SHEET_CELL),
        "X-Sheet-Columns": str(SHEET_COLUMNS),
        "Cache-Control": f"private, max-age={THUMB_MAX_AGE}",
    }
    if request.if_none_match.contains(etag):
        resp = Response(status=304, headers=headers)
        resp.set_etag(etag)
        return resp
    folder = _thumb_dir()
    by_photo: dict[str, list[int]] = {}  # a missing crop decodes its photo once per sheet
    for i, (sha256, _, _) in sources.items():
        by_photo.setdefault(sha256, []).append(i)
    files: dict[int, Path | None] = {}
    for sha256, face_ids in by_photo.items():
        paths = sources[face_ids[0]][2]
        boxes = [sources[i][1] for i in face_ids]
        files.update(zip(face_ids, ensure_thumbnails(folder, paths, sha256, boxes), strict=True))
    data = _compose_sheet([files.get(i) for i in ids])
    resp = Response(data, mimetype="image/jpeg", headers=headers)
    resp.set_etag(etag)
    return resp


def _compose_sheet(crops: list[Path | None]) -> bytes:
    """The crops (None: a grey cell) pasted into SHEET_COLUMNS-wide rows of square cells."""
    import io

    from PIL import Image

    columns = min(SHEET_COLUMNS, len(crops))
    rows = -(-len(crops) // SHEET_COLUMNS)
    sheet = Image.new("RGB", (columns * SHEET_CELL, rows * SHEET_CELL), SHEET_GREY)
    for n, path in enumerate(crops):
        if path is None:
            continue
        try:
            with Image.open(path) as im:
                im.draft("RGB", (SHEET_CELL, SHEET_CELL))  # JPEG: decode at a smaller scale
                crop = ImageOps.fit(im.convert("RGB"), (SHEET_CELL, SHEET_CELL))
        except OSError:  # a damaged cache file: a grey cell (deleted: cut again next time)
            path.unlink(missing_ok=True)
            continue
        sheet.paste(crop, ((n % SHEET_COLUMNS) * SHEET_CELL, (n // SHEET_COLUMNS) * SHEET_CELL))
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=85)
    return out.getvalue()
