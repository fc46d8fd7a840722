"""A catalog photo's own bytes and its display-size preview: what the viewer shows and saves.

``GET /api/v1/photos/{id}/original`` streams the file of a photo of the catalog — asked for
by its id, never by a path, so the API cannot be made to read anything the catalog does not
hold. A copy is served only when it is still what was indexed (the catalog's size and mtime)
and, with ``SMARTALBUM_JOBS__ROOTS`` set, lies inside those folders; it is opened through
:func:`smartalbum.imaging.reading.open_photo_file` (regular files only, at most
``imaging.max_file_mb``). The photo's SHA-256 is its ETag, and werkzeug's conditional
responses answer ``If-None-Match`` (304) and ``Range`` (206, 416), so a browser can resume a
download or seek in a large TIFF.

``GET /api/v1/photos/{id}/preview?size=1600|2560`` is the picture a screen shows: upright
(EXIF orientation applied), colour managed, JPEG whatever the original (HEIC, TIFF, PNG),
made once by the thumbnails' store (:func:`smartalbum.library.thumbnails.preview_store`) and
then served from disk. Both are cached by the browser for good (private, immutable): a photo
id always names the same bytes.
"""

from __future__ import annotations

import os

from flask import Blueprint, Response, request, send_file, url_for
from PIL import Image
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from smartalbum.imaging.errors import PhotoError
from smartalbum.imaging.reading import open_photo_file
from smartalbum.library.thumbnails import (
    PREVIEW_SIDES,
    ThumbnailStore,
    ThumbnailUnavailableError,
    preview_store,
)
from smartalbum.web.contract import api, query_args, responses
from smartalbum.web.library_api import (
    PhotoCopies,
    cache_forever,
    get_library,
    not_modified,
    photo_copies,
)
from smartalbum.web.models.common import JPEG
from smartalbum.web.models.photos import Original, OriginalQuery, PreviewQuery
from smartalbum.web.problems import ProblemError

bp = Blueprint("photos_api", __name__)

PREVIEWS_KEY = "smartalbum.previews"
#: Formats whose files a browser shows as they are; any other gets a JPEG preview link.
BROWSER_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "AVIF"}
#: Pillow format names the browser knows under another media type.
_MEDIA_TYPES = {"MPO": "image/jpeg", "HEIF": "image/heif", "HEIC": "image/heif"}


def _inside_roots(photo: PhotoCopies, photo_id: int) -> None:
    """A 404 problem when the photo's copies all lie outside the folders this server may
    read (checked after the 304, which needs no file)."""
    if photo.outside_roots:
        raise _unavailable(photo_id, "its copies lie outside the folders this server may use")


def _unavailable(photo_id: int, why: str) -> ProblemError:
    return ProblemError(
        404,
        "Photo unavailable",
        f"No readable copy of photo {photo_id}: {why}",
        code="original_unavailable",
    )


def media_type(fmt: str, path: str) -> str:
    """The original's media type: from the format the indexer read, else the file name."""
    import mimetypes

    Image.init()
    fmt = fmt.upper()
    known = _MEDIA_TYPES.get(fmt) or Image.MIME.get(fmt)
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


@bp.get("/api/v1/photos/<int:photo_id>/original")
@api.validate(
    query=OriginalQuery,
    resp=responses(
        {
            200: (Original, "The file's bytes, as they are on disk"),
            206: (Original, "The requested byte range (Range)"),
            304: (None, "Not modified (If-None-Match matched)"),
            416: (None, "The requested range is outside the file"),
        },
        [404],
    ),
    operation_id="getOriginal",
)
def original(photo_id: int) -> Response:
    """The photo's original file (ETag, ranges; download=true to save it)

    A photo of the catalog by its id: the first copy that is still what was indexed (size
    and modification time), inside SMARTALBUM_JOBS__ROOTS when set, and a regular file
    within imaging.max_file_mb. ETag is the photo's SHA-256; If-None-Match answers 304 and
    Range 206. Formats a browser cannot show (HEIC, TIFF) carry a Link to their JPEG
    preview.
    """
    lib = get_library()
    args: OriginalQuery = query_args()
    photo = photo_copies(lib, photo_id)
    cached = not_modified(photo.sha256)
    if cached is not None:
        return cached
    _inside_roots(photo, photo_id)
    problems = []
    for source in photo.sources:
        try:
            f, st = open_photo_file(source.path)
        except PhotoError as exc:
            problems.append(str(exc))
            continue
        if (source.size is not None and st.st_size != source.size) or (
            source.mtime_ns is not None and st.st_mtime_ns != source.mtime_ns
        ):
            f.close()
            problems.append(f"{source.path}: changed since it was indexed")
            continue
        return _send(f, st, source.path, photo, download=args.download, photo_id=photo_id)
    raise _unavailable(photo_id, "; ".join(problems) or "the photo has no copy on disk")


def _send(
    f: object,
    st: os.stat_result,
    path: str,
    photo: PhotoCopies,
    *,
    download: bool,
    photo_id: int,
) -> Response:
    """``f`` streamed with the photo's ETag; werkzeug answers Range and If-None-Match.

    send_file cannot learn the size of an open file, so the conditional part (which needs
    it for ranges) is applied here with the ``fstat`` of exactly what is sent.
    """
    resp = send_file(
        f,  # type: ignore[arg-type]
        mimetype=media_type(photo.format, path),
        as_attachment=download,
        download_name=os.path.basename(path),
        etag=photo.sha256,
        last_modified=st.st_mtime,
        conditional=False,
    )
    resp.content_length = st.st_size
    try:
        resp = resp.make_conditional(
            request.environ, accept_ranges=True, complete_length=st.st_size
        )
    except RequestedRangeNotSatisfiable:
        resp.close()  # the 416 is answered without the file: close it now, not at GC
        raise
    if photo.format.upper() not in BROWSER_FORMATS:
        preview = url_for("photos_api.preview", photo_id=photo_id, size=PREVIEW_SIDES[-1])
        resp.headers["Link"] = f'<{preview}>; rel="alternate"; type="image/jpeg"'
    cache_forever(resp)
    return resp


def _preview_store(side: int) -> ThumbnailStore:
    from flask import current_app

    from smartalbum.web.state import get_state

    stores: dict[int, ThumbnailStore] = current_app.extensions.setdefault(PREVIEWS_KEY, {})
    if side not in stores:
        settings = get_state().settings
        stores[side] = preview_store(
            settings.data_dir, side, max_pixels=settings.imaging.max_pixels
        )
    return stores[side]


@bp.get("/api/v1/photos/<int:photo_id>/preview")
@api.validate(
    query=PreviewQuery,
    resp=responses(
        {
            200: (JPEG, "The preview"),
            304: (None, "Not modified (If-None-Match matched)"),
        },
        [400, 404],
    ),
    operation_id="getPreview",
)
def preview(photo_id: int) -> Response:
    """A display-size JPEG of the photo (upright; HEIC and TIFF too)

    At most ``size`` px on its longest side (never enlarged), made once from the original
    and kept on disk under the data dir (a cache: it may be deleted at any time). ETag is
    the photo's SHA-256 and the size.
    """
    lib = get_library()
    side = int(query_args().size)
    photo = photo_copies(lib, photo_id)
    etag = f"{photo.sha256}-{side}"
    cached = not_modified(etag)
    if cached is not None:
        return cached
    _inside_roots(photo, photo_id)
    try:
        path = _preview_store(side).get(photo.sha256, photo.sources)
    except ThumbnailUnavailableError as exc:
        raise _unavailable(photo_id, str(exc)) from None
    resp = send_file(path, mimetype="image/jpeg", etag=etag, conditional=True)
    cache_forever(resp)
    return resp
