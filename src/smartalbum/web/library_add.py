"""``POST /api/v1/library/photos``: the drop page's "Add to library".

The uploads are copied into a library folder without overwriting anything
(:mod:`smartalbum.organize.intake`) — by default ``<data_dir>/library/Dropped/<date>/``, or
the ``folder`` field, which must lie inside ``SMARTALBUM_JOBS__ROOTS`` when roots are set
(the rule every job's paths follow) — and indexed in-process at once with the app's engine
(``scope`` = these files, so a drop never pays for a catalog-wide pass). The answer gives
each upload's catalog photo id, so the page can open it in the viewer and correct it with
``PATCH /api/v1/photos/{id}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import FileStorage

from smartalbum.web.api import file_parts
from smartalbum.web.contract import api, responses
from smartalbum.web.library_api import catalog_factory
from smartalbum.web.models.actions import AddedPhotos, AddToLibraryForm
from smartalbum.web.models.common import NoQuery
from smartalbum.web.problems import ProblemError
from smartalbum.web.state import get_state

bp = Blueprint("library_add", __name__)

#: The longest folder path accepted in the ``folder`` field.
MAX_FOLDER = 4096


def read_parts(files: list[FileStorage]) -> Iterator[tuple[str, bytes]]:
    """Read the parts one by one, each released right after (its spooled temp file)."""
    for f in files:
        try:
            yield f.filename or "", f.read()
        finally:
            f.close()


def _folder() -> Path:
    """The ``folder`` field (absolute, inside the job roots when set), else the default."""
    from smartalbum.jobs.roots import check_within_roots
    from smartalbum.organize.intake import default_folder

    settings = get_state().settings
    given = request.form.get("folder")
    if given is None:  # absent: the default; present, it must be a folder
        return default_folder(settings.data_dir)
    if (
        len(given) > MAX_FOLDER
        or any(ord(c) < 32 or ord(c) == 127 for c in given)
        or not Path(given).expanduser().is_absolute()
    ):
        raise ProblemError.bad_parameter("folder", "Give an absolute folder path.")
    return check_within_roots(given, settings.jobs.roots, "folder")


@bp.post("/api/v1/library/photos")
@api.validate(
    query=NoQuery,
    form=AddToLibraryForm,
    resp=responses(
        {200: (AddedPhotos, "Each upload: its path and catalog photo")}, (400, 413, 503, 507)
    ),
    skip_validation=True,  # multipart: parsed by web/multipart.py, checked by file_parts
    operation_id="addToLibrary",
)
def add_to_library() -> Response:
    """Add uploaded photos to the library (copied, never overwriting; then indexed)

    Optional form field ``folder``: where to put them (absolute; inside the job roots when
    set). Default ``<data_dir>/library/Dropped/<YYYY-MM-DD>/``. A name already taken gets
    `` (1)``; a file with the same bytes already there is reused.
    """
    from smartalbum.imaging import PhotoError, load_photo
    from smartalbum.library.catalog import photo_id_for_path
    from smartalbum.library.indexer import Indexer
    from smartalbum.organize.intake import Added, add_files
    from smartalbum.web.classify import photo_error_dict

    state = get_state()
    factory = catalog_factory()
    files = file_parts(state)
    folder = _folder()
    uploads, refused = [], {}
    for name, data in read_parts(files):
        try:  # only photos go into the library: a quick, small decode says so
            load_photo(
                data, max_side=64, max_pixels=state.settings.imaging.max_pixels, digest=False
            )
        except PhotoError as exc:
            refused[len(uploads) + len(refused)] = Added(
                filename=name, status="error", detail=photo_error_dict(exc)["detail"]
            )
            continue
        uploads.append((name, data))
    written = iter(add_files(uploads, folder))
    added = [refused[i] if i in refused else next(written) for i in range(len(files))]
    paths = [a.path for a in added if a.path]
    if paths:
        Indexer(factory, state.engine, scope=paths, settings=state.settings).run(paths)
    photos = []
    with factory() as session:
        for a in added:
            photo_id = None
            if a.path:
                photo_id = photo_id_for_path(session, str(Path(a.path).resolve()))
                if photo_id is None:
                    photo_id = photo_id_for_path(session, a.path)
            photos.append(
                {
                    "filename": a.filename,
                    "status": a.status,
                    "photo_id": photo_id,
                    "path": a.path,
                    "sha256": a.sha256,
                    "error": {"code": "not_added", "title": "Not added", "detail": a.detail}
                    if a.detail
                    else None,
                }
            )
    return jsonify(
        folder=str(folder),
        added=sum(a.status == "added" for a in added),
        already=sum(a.status == "already" for a in added),
        failed=sum(a.status == "error" for a in added),
        photos=photos,
    )
