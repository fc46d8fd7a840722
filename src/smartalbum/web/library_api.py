"""The library API: photos of the catalog, their thumbnails, corrections, duplicates, stats.

Registered by :func:`smartalbum.web.create_app`, which opens (and upgrades) the catalog
once at start-up through :func:`init_library`. When the catalog cannot be opened the app
still starts — classifying uploads needs no catalog — and these endpoints answer as for an
empty library (empty lists, 404 for a photo), while ``GET /api/v1/stats`` says why.

Which label counts: the latest correction, else the latest prediction of the head (the
``head`` parameter, default the app's head), as everywhere in Smart Album. A correction
(``PATCH``) must be one of that head's labels: corrections are training data for the head
in a later issue, and a label outside its set could never be learned (nor told from a
typo). Categories of one's own come with custom heads, not with free-text corrections.

Whole-catalog answers (stats, duplicate groups) are kept per catalog fingerprint
(:func:`smartalbum.library.browse.catalog_fingerprint`), so they are computed again only
after the catalog changed.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.config import Settings
from smartalbum.library import browse
from smartalbum.library.catalog import (
    PhotoRecord,
    add_correction,
    iter_photos,
    load_embeddings,
    model_key,
)
from smartalbum.library.catalog import stats as catalog_stats
from smartalbum.library.review import review_reasons
from smartalbum.library.schema import FILE_PRESENT, Correction, Embedding, File, Photo, Prediction
from smartalbum.library.thumbnails import Source, ThumbnailStore, ThumbnailUnavailableError
from smartalbum.model.engine import Engine
from smartalbum.web.cache import ComputedCache
from smartalbum.web.contract import api, json_body, query_args, responses
from smartalbum.web.models.actions import Home as HomeModel
from smartalbum.web.models.actions import (
    HomeBody,
    PlaceMatches,
    PlacesQuery,
    Resolution,
    ResolutionUndone,
    ResolveBody,
    TripDetail,
)
from smartalbum.web.models.common import JPEG, NoQuery
from smartalbum.web.models.library import (
    CorrectionBody,
    DuplicatesPage,
    DuplicatesQuery,
    HeadOnlyQuery,
    PhotoDetail,
    PhotoFilters,
    PhotoListQuery,
    PhotoPage,
    Stats,
    Timeline,
    Trips,
    TripsQuery,
)
from smartalbum.web.problems import ProblemError

log = logging.getLogger(__name__)

bp = Blueprint("library_api", __name__)

EXTENSION_KEY = "smartalbum.library"
#: Photo ids are 32-bit in the schema; larger path values are answered 404 without a query.
MAX_PHOTO_ID = 2**31 - 1
#: A thumbnail never changes (it is named by the photo's hash): cache it for a year.
THUMBNAIL_MAX_AGE = 365 * 24 * 3600


# --------------------------------------------------------------------------- state


@dataclass
class LibraryState:
    """The catalog as the web app sees it (``factory`` None: not available, see ``error``)."""

    factory: sessionmaker[Session] | None
    error: str | None
    thumbnails: ThumbnailStore
    url: str
    results: ComputedCache = field(default_factory=ComputedCache)
    #: Timelines per filter set, apart so that browsing many filters never evicts the
    #: whole-catalog results above.
    timelines: ComputedCache = field(default_factory=lambda: ComputedCache(maxsize=64))
    settings: Settings | None = None
    #: monotonic time of the last failed open (a closed catalog is tried again after
    #: REOPEN_AFTER_S, so a database that was down at start is used once it is back)
    failed_at: float = 0.0


def init_library(app: Flask, settings: Settings) -> LibraryState:
    """Open the catalog (creating or upgrading its schema) and keep it on ``app``.

    A catalog that cannot be opened is logged and reported by ``/api/v1/stats``; the app
    starts anyway (see the module docstring).
    """
    from sqlalchemy.engine import make_url

    from smartalbum.library.db import default_url

    url = default_url(settings)
    safe_url = make_url(url).render_as_string(hide_password=True)
    thumbnails = ThumbnailStore(
        settings.data_dir / "thumbnails", max_pixels=settings.imaging.max_pixels
    )
    state = LibraryState(
        factory=None, error=None, thumbnails=thumbnails, url=safe_url, settings=settings
    )
    _try_open(state)
    app.extensions[EXTENSION_KEY] = state
    return state


#: Seconds between two tries to open a catalog that could not be opened.
REOPEN_AFTER_S = 5.0


def _try_open(state: LibraryState) -> None:
    """Open the catalog into ``state`` or record why not (SchemaNewerError propagates: a
    node older than the database must not start)."""
    import time

    from smartalbum.library.db import default_url, open_catalog

    assert state.settings is not None
    try:
        _, state.factory = open_catalog(state.settings, url=default_url(state.settings))
        state.error = None
    except (SQLAlchemyError, OSError) as exc:
        state.failed_at = time.monotonic()
        state.error = f"cannot open the catalog at {state.url}: {type(exc).__name__}"
        log.error("%s: %s", state.error, exc)


def get_library() -> LibraryState:
    return current_app.extensions[EXTENSION_KEY]


def catalog_factory() -> sessionmaker[Session]:
    """The catalog's session factory, or a 503 problem when the catalog could not be opened
    (for the endpoints that cannot answer without one: jobs, people, categories)."""
    import time

    library = get_library()
    retry = time.monotonic() - library.failed_at >= REOPEN_AFTER_S
    if library.factory is None and library.settings is not None and retry:
        _try_open(library)  # the database may be back
    if library.factory is None:
        raise ProblemError(
            503, "Catalog unavailable", library.error or "no catalog", code="catalog_unavailable"
        )
    return library.factory


def engine_and_head() -> tuple[Engine, str]:
    """The app's engine and default head (for the blueprints that read the catalog)."""
    from smartalbum.web.state import get_state

    state = get_state()
    return state.engine, state.default_head


# --------------------------------------------------------------------------- parameters


def resolve_head(engine: Engine, default_head: str, given: str | None) -> str:
    """``given`` when it names a head of the bundle (else a 400 listing them), or the
    default head when none is given."""
    return engine.bundle.resolve_head(given, default=default_head)  # UnknownHeadError: 400


def _photo_query(head: str, query: PhotoFilters) -> browse.PhotoQuery:
    filters = query.model_dump(exclude={"head", "limit", "cursor"})
    try:
        return browse.PhotoQuery(head=head, **filters)
    except ValueError as exc:  # pragma: no cover - the model checks the same ranges
        raise ProblemError.bad_parameter("query", str(exc)) from exc


def photo_not_found(photo_id: int, lib: LibraryState) -> ProblemError:
    """The 404 for a photo id the catalog does not hold (saying why when it is closed)."""
    detail = f"No photo with id {photo_id} in the catalog."
    if lib.error:
        detail += f" ({lib.error})"
    return ProblemError(404, "Not Found", detail, code="photo_not_found")


# --------------------------------------------------------------------------- JSON shapes


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def photo_item(record: PhotoRecord) -> dict[str, Any]:
    """A photo in a list: what a gallery tile shows."""
    p = record.prediction
    corrected = record.correction is not None
    return {
        "id": record.id,
        "sha256": record.sha256,
        "path": record.path,
        "taken_at": _iso(record.taken_at),
        "taken_at_source": record.taken_at_source,
        "width": record.width,
        "height": record.height,
        "format": record.format,
        "size": record.size,
        "camera": record.camera,
        "city": record.city,
        "region": record.region,
        "country": record.country,
        "label": record.label,
        "label_source": "correction" if corrected else ("prediction" if p else None),
        "confidence": None if p is None else round(p.confidence, 6),
        "uncertain": bool(p is not None and p.uncertain and not corrected),
        "review": review_reasons(record),
        "thumbnail": url_for("library_api.thumbnail", photo_id=record.id),
    }


def _photo_detail(session: Session, record: PhotoRecord) -> dict[str, Any]:
    """Everything the catalog holds on one photo (but the embedding)."""
    out = photo_item(record)
    files = session.execute(
        select(File.path, File.status, File.size, File.mtime_ns, File.first_seen, File.last_seen)
        .where(File.photo_id == record.id)
        .order_by(File.id)
    ).all()
    out["files"] = [
        {
            "path": f.path,
            "status": f.status,
            "size": f.size,
            "mtime_ns": f.mtime_ns,
            "first_seen": _iso(f.first_seen),
            "last_seen": _iso(f.last_seen),
        }
        for f in files
    ]
    out["metadata"] = {
        "taken_at": _iso(record.taken_at),
        "taken_at_source": record.taken_at_source,
        "tz_offset_min": record.tz_offset_min,
        "camera_make": record.camera_make,
        "camera_model": record.camera_model,
        "format": record.format,
        "width": record.width,
        "height": record.height,
        "size": record.size,
        "phash": f"{record.phash:016x}" if record.phash is not None else None,
        "dhash": f"{record.dhash:016x}" if record.dhash is not None else None,
    }
    out["place"] = {
        "latitude": record.latitude,
        "longitude": record.longitude,
        "altitude": record.altitude,
        "city": record.city,
        "region": record.region,
        "country": record.country,
    }
    out["quality"] = {
        "blur": record.blur,
        "blurry": "blurry" in out["review"],
        "exposure_mean": record.exposure_mean,
        "exposure_dark": record.exposure_dark,
        "exposure_bright": record.exposure_bright,
        "exposure_verdict": record.exposure_verdict,
    }
    out["prediction"] = (
        None
        if record.prediction is None
        else {
            **record.prediction.to_dict(),
            "head": record.prediction.head,
            "head_version": record.prediction.head_version,
        }
    )
    out["predictions"] = [
        {
            "head": p.head,
            "head_version": p.head_version,
            "backbone_version": p.backbone_version,
            "label": p.label,
            "confidence": round(p.confidence, 6),
            "uncertain": p.uncertain,
            "probabilities": {k: round(float(v), 6) for k, v in p.probabilities.items()},
            "created_at": _iso(p.created_at),
        }
        for p in session.scalars(
            select(Prediction)
            .where(Prediction.photo_id == record.id)
            .order_by(Prediction.id.desc())
        )
    ]
    out["corrections"] = [
        {
            "id": c.id,
            "label": c.label,
            "head": c.head,
            "source": c.source,
            "created_at": _iso(c.created_at),
        }
        for c in session.scalars(
            select(Correction)
            .where(Correction.photo_id == record.id)
            .order_by(Correction.id.desc())
        )
    ]
    return out


def load_records(session: Session, ids: list[int], head: str) -> list[PhotoRecord]:
    """Records of ``ids`` in that order (with the head's prediction and corrections)."""
    by_id = {r.id: r for r in iter_photos(session, ids=ids, head=head, include_missing=True)}
    return [by_id[i] for i in ids if i in by_id]


# --------------------------------------------------------------------------- photos


@bp.get("/api/v1/photos")
@api.validate(
    query=PhotoListQuery,
    resp=responses({200: (PhotoPage, "A page of photos")}, [400]),
    operation_id="listPhotos",
)
def list_photos() -> Response:
    """Photos of the catalog, newest first, filtered, page by page

    Photos with a copy on disk, ordered by capture time (newest first; undated last,
    newest indexed first). Pages are keyset-paginated: pass next_cursor back as cursor,
    with the same filters. Filters combine (AND).
    """
    lib = get_library()
    engine, default_head = engine_and_head()
    args: PhotoListQuery = query_args()
    head = resolve_head(engine, default_head, args.head)
    query = _photo_query(head, args)
    limit, cursor = args.limit, args.cursor
    if lib.factory is None:
        if cursor:
            raise ProblemError.bad_parameter(
                "cursor", "The catalog is not available; start without a cursor."
            )
        return jsonify(items=[], next_cursor=None, limit=limit, head=head)
    with lib.factory() as session:
        try:
            page = browse.page(session, query, limit=limit, cursor=cursor)
        except browse.CursorError as exc:
            raise ProblemError.bad_parameter("cursor", str(exc)) from None
        items = [photo_item(r) for r in load_records(session, page.ids, head)]
    return jsonify(items=items, next_cursor=page.next_cursor, limit=limit, head=head)


@bp.get("/api/v1/photos/months")
@api.validate(
    query=PhotoFilters,
    resp=responses({200: (Timeline, "Photos per month")}, [400]),
    operation_id="photoMonths",
)
def photo_months() -> Response:
    """Photos per month of a filtered listing: the gallery's date headers and timeline

    The same filters as GET /api/v1/photos; newest month first, the undated photos last.
    Each month carries the cursor that starts the listing at it (a timeline jump). One
    grouped query, kept per catalog change.
    """
    lib = get_library()
    engine, default_head = engine_and_head()
    args: PhotoFilters = query_args()
    head = resolve_head(engine, default_head, args.head)
    query = _photo_query(head, args)
    if lib.factory is None:
        return jsonify(head=head, total=0, months=[])
    factory = lib.factory
    with factory() as session:
        key = ("months", query, browse.catalog_fingerprint(session))

    def compute() -> list[dict[str, Any]]:
        with factory() as session:
            return [asdict(m) for m in browse.months(session, query)]

    found = lib.timelines.get_or_compute(key, compute)
    return jsonify(head=head, total=sum(m["count"] for m in found), months=found)


def _record_or_404(session: Session, lib: LibraryState, photo_id: int, head: str) -> PhotoRecord:
    if photo_id > MAX_PHOTO_ID:
        raise photo_not_found(photo_id, lib)
    records = load_records(session, [photo_id], head)
    if not records:
        raise photo_not_found(photo_id, lib)
    return records[0]


@bp.get("/api/v1/photos/<int:photo_id>")
@api.validate(
    query=HeadOnlyQuery,
    resp=responses({200: (PhotoDetail, "The photo")}, [400, 404]),
    operation_id="getPhoto",
)
def photo_detail(photo_id: int) -> Response:
    """One photo: files, metadata, place, quality, predictions, corrections"""
    lib = get_library()
    engine, default_head = engine_and_head()
    head = resolve_head(engine, default_head, query_args().head)
    if lib.factory is None:
        raise photo_not_found(photo_id, lib)
    with lib.factory() as session:
        record = _record_or_404(session, lib, photo_id, head)
        return jsonify(_photo_detail(session, record))


@bp.patch("/api/v1/photos/<int:photo_id>")
@api.validate(
    json=CorrectionBody,
    resp=responses({200: (PhotoDetail, "The photo, corrected")}, [400, 404, 507]),
    operation_id="correctPhoto",
)
def correct_photo(photo_id: int) -> Response:
    """Correct a photo's label (stored; wins over predictions everywhere)

    The label must be one of the head's labels (GET /api/v1/model); anything else is a
    400 problem listing them. Corrections are kept as history; the latest counts.
    """
    lib = get_library()
    engine, default_head = engine_and_head()
    body: CorrectionBody = json_body()
    head = resolve_head(engine, default_head, body.head)
    label = known_label(engine, head, body.label)
    if lib.factory is None or photo_id > MAX_PHOTO_ID:
        raise photo_not_found(photo_id, lib)
    with lib.factory() as session:
        try:
            add_correction(session, photo_id, label, head=head, source="web")
        except LookupError:
            raise photo_not_found(photo_id, lib) from None
        session.commit()
        record = _record_or_404(session, lib, photo_id, head)
        return jsonify(_photo_detail(session, record))


def known_label(engine: Engine, head: str, given: str) -> str:
    """``given`` (stripped) when it is one of ``head``'s labels, else a 400 ``unknown_label``
    problem listing them (a correction, one photo's or a selection's)."""
    labels = list(engine.bundle.heads[head].labels)
    label = given.strip()
    if label not in labels:
        raise ProblemError(
            400,
            "Unknown label",
            f"{given!r} is not a label of head {head!r}; available: {', '.join(labels)}.",
            code="unknown_label",
            available=labels,
        )
    return label


@bp.get("/api/v1/photos/<int:photo_id>/thumbnail")
@api.validate(
    query=NoQuery,
    resp=responses(
        {
            200: (JPEG, "The thumbnail"),
            304: (None, "Not modified (If-None-Match matched)"),
        },
        [404, 507],
    ),
    operation_id="getThumbnail",
)
def thumbnail(photo_id: int) -> Response:
    """The photo's JPEG thumbnail (made once, then served from disk)

    At most 320 px on its longest side. ETag is the photo's SHA-256 and it may be cached
    for a year (private, immutable). Not rate limited.
    """
    lib = get_library()
    photo = photo_copies(lib, photo_id)
    cached = not_modified(photo.sha256)
    if cached is not None:
        return cached
    try:
        if photo.outside_roots:
            raise ThumbnailUnavailableError(
                "its copies lie outside the folders this server may use"
            )
        try:
            path = lib.thumbnails.get(photo.sha256, photo.sources)
        except ThumbnailUnavailableError:
            # a file the catalog keeps (an example uploaded to another node): its bytes
            from smartalbum.library.stored_files import get as stored_bytes

            data = stored_bytes(lib.factory, photo.sha256)
            if data is None:
                raise
            path = lib.thumbnails.get(photo.sha256, [Source("stored in the catalog", data=data)])
    except ThumbnailUnavailableError as exc:
        raise ProblemError(
            404,
            "Thumbnail unavailable",
            f"No readable copy of photo {photo_id}: {exc}",
            code="thumbnail_unavailable",
        ) from None
    resp = send_file(
        path, mimetype="image/jpeg", etag=photo.sha256, conditional=True, max_age=THUMBNAIL_MAX_AGE
    )
    cache_forever(resp)
    return resp


@dataclass(frozen=True)
class PhotoCopies:
    """What serving a photo's pixels needs from the catalog: its hash, format and present
    copies. ``sources``: those inside SMARTALBUM_JOBS__ROOTS, resolved only when asked, so
    a 304 answered from the hash touches no disk; ``outside_roots``: it has copies, but
    none there, so nothing may be read."""

    sha256: str
    format: str
    present: list[Source]
    roots: list[str]

    @cached_property
    def sources(self) -> list[Source]:
        from smartalbum.jobs.roots import within_roots

        return [s for s in self.present if within_roots(s.path, self.roots)]

    @property
    def outside_roots(self) -> bool:
        return bool(self.present) and not self.sources


def photo_copies(lib: LibraryState, photo_id: int) -> PhotoCopies:
    """The one lookup behind every route that reads a photo's file (thumbnail, original,
    preview): the photo's hash and present copies, or a 404 problem for an unknown id."""
    from smartalbum.web.state import get_state

    if lib.factory is None or photo_id > MAX_PHOTO_ID:
        raise photo_not_found(photo_id, lib)
    with lib.factory() as session:
        row = session.execute(
            select(Photo.sha256, Photo.format).where(Photo.id == photo_id)
        ).first()
        if row is None:
            raise photo_not_found(photo_id, lib)
        present = [
            Source(path, size, mtime_ns)
            for path, size, mtime_ns in session.execute(
                select(File.path, File.size, File.mtime_ns)
                .where(File.photo_id == photo_id, File.status == FILE_PRESENT)
                .order_by(File.id)
            )
        ]
    roots = [str(r) for r in get_state().settings.jobs.roots]
    return PhotoCopies(row.sha256, row.format or "", present, roots)


def not_modified(etag: str) -> Response | None:
    """A 304 when the client holds exactly this (no disk access at all)."""
    if etag not in request.if_none_match:
        return None
    resp = Response(status=304)
    resp.set_etag(etag)
    cache_forever(resp)
    return resp


def cache_forever(resp: Response) -> None:
    """A year, in the browser only (private: behind an API key, shared caches must not
    keep photos); immutable: no revalidation even on reload."""
    resp.cache_control.public = False
    resp.cache_control.private = True
    resp.cache_control.max_age = THUMBNAIL_MAX_AGE
    resp.cache_control.immutable = True
    resp.headers.pop("Expires", None)


# --------------------------------------------------------------------------- duplicates


def _backbone_version(session: Session, engine: Engine, head: str) -> str | None:
    """The running backbone's version when the catalog has its embeddings, else the
    version with the most embeddings (a catalog indexed with another bundle)."""
    version = model_key(engine, head).backbone_version
    if session.scalar(select(Embedding.id).where(Embedding.backbone_version == version).limit(1)):
        return version
    return session.scalar(
        select(Embedding.backbone_version)
        .group_by(Embedding.backbone_version)
        .order_by(func.count(Embedding.id).desc())
        .limit(1)
    )


def _duplicate_groups(lib: LibraryState, near: bool) -> list[dict[str, Any]]:
    from smartalbum.library.duplicates import exact_groups, merge_groups, near_groups

    factory = lib.factory
    assert factory is not None
    engine, head = engine_and_head()
    with factory() as session:
        key = ("duplicates", near, browse.catalog_fingerprint(session, labels=False))

    def compute() -> list[dict[str, Any]]:
        with factory() as session:
            photos = list(iter_photos(session))
            version = _backbone_version(session, engine, head) if near else None
        groups = exact_groups(photos)
        if near:

            def embeddings(ids: list[int]) -> dict[int, Any]:
                if version is None:
                    return {}
                with factory() as session:
                    return load_embeddings(session, ids, version)

            groups = merge_groups(photos, groups, near_groups(photos, embeddings=embeddings))
        return [g.to_dict() for g in groups]

    return lib.results.get_or_compute(key, compute)


def _offset_cursor(token: str | None, near: bool) -> int:
    if not token:
        return 0
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = body["o"]
        if body.get("n") != near or not isinstance(offset, int) or offset < 0:
            raise ValueError
        return offset
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise ProblemError.bad_parameter(
            "cursor", "Not a cursor of this listing; start again without it."
        ) from None


def _encode_offset(offset: int, near: bool) -> str:
    raw = json.dumps({"o": offset, "n": near}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@bp.get("/api/v1/duplicates")
@api.validate(
    query=DuplicatesQuery,
    resp=responses({200: (DuplicatesPage, "A page of groups")}, [400]),
    operation_id="listDuplicates",
)
def duplicates() -> Response:
    """Groups of duplicate photos and the copy to keep

    Exact copies (same bytes at several paths) and near-duplicates (resized, re-encoded
    copies; bursts are not grouped). The first member of a group is the suggested copy to
    keep. Computed once per catalog change; the first request on a large catalog can take
    a while. Nothing is ever deleted.
    """
    lib = get_library()
    args: DuplicatesQuery = query_args()
    near, limit = args.near, args.limit
    offset = _offset_cursor(args.cursor, near)
    groups = _duplicate_groups(lib, near) if lib.factory is not None else []
    chunk = groups[offset : offset + limit]
    out = []
    for number, group in enumerate(chunk, offset + 1):
        members = [
            {**m, "thumbnail": url_for("library_api.thumbnail", photo_id=m["photo_id"])}
            for m in group["members"]
        ]
        keep = {**group["keep"], "thumbnail": members[0]["thumbnail"]}
        out.append({"group": number, **group, "keep": keep, "members": members})
    more = offset + limit < len(groups)
    return jsonify(
        groups=out,
        total=len(groups),
        next_cursor=_encode_offset(offset + limit, near) if more else None,
    )


def _duplicates_folder() -> Any:
    from smartalbum.organize.dedupe import duplicates_folder
    from smartalbum.web.state import get_state

    return duplicates_folder(get_state().settings.data_dir)


@bp.post("/api/v1/duplicates/resolve")
@api.validate(
    query=NoQuery,
    json=ResolveBody,
    resp=responses({200: (Resolution, "The other copies, moved")}, [400, 404, 503, 507]),
    operation_id="resolveDuplicates",
)
def resolve_duplicates() -> Response:
    """Keep one copy of a group: the others are moved out, never deleted

    The other copies of the group holding ``(photo_id, path)`` are moved to
    ``<data_dir>/duplicates/<resolution>/`` through organise's journal; the catalog marks
    their old paths missing. ``POST /api/v1/duplicates/resolutions/{name}/undo`` (or
    ``smartalbum organize --rollback`` on the journal there) puts them back.
    """
    from smartalbum.library.duplicates import find_group
    from smartalbum.organize.dedupe import DuplicateCopyNotFound, plan_resolution, resolve

    body: ResolveBody = json_body()
    lib = get_library()
    factory = catalog_factory()
    group = find_group(_duplicate_groups(lib, True), body.photo_id, body.path)
    if group is None:
        raise DuplicateCopyNotFound(f"{body.path!r} is not in a duplicate group (reload the list)")
    plan = plan_resolution(group["members"], body.photo_id, body.path, _duplicates_folder())
    result = resolve(plan, lambda: factory)
    return jsonify(
        resolution=plan.into.name,
        folder=str(plan.into),
        moved=result.counts.get("moved", 0),
        failed=[f"{item.source}: {why}" for item, why in result.failed],
        catalog_warning=result.catalog_warning,
    )


@bp.post("/api/v1/duplicates/resolutions/<string(minlength=22, maxlength=22):name>/undo")
@api.validate(
    query=NoQuery,
    resp=responses({200: (ResolutionUndone, "The copies, back where they were")}, [404, 503]),
    operation_id="undoDuplicates",
)
def undo_duplicates(name: str) -> Response:
    """Undo a resolution: the moved copies go back to their paths"""
    from smartalbum.organize.dedupe import undo_resolution

    factory = catalog_factory()
    result = undo_resolution(_duplicates_folder(), name, lambda: factory)
    return jsonify(
        resolution=name,
        restored=result.counts.get("restored", 0),
        conflicts=list(result.conflicts),
        catalog_warning=result.catalog_warning,
    )


# --------------------------------------------------------------------------- stats


@bp.get("/api/v1/stats")
@api.validate(
    query=HeadOnlyQuery,
    resp=responses({200: (Stats, "Counts over photos with a copy on disk")}, [400]),
    operation_id="stats",
)
def stats() -> Response:
    """Counts per label, year and month, place, camera and review reason

    The label that counts: the latest correction, else the head's prediction.
    """
    lib = get_library()
    engine, default_head = engine_and_head()
    head = resolve_head(engine, default_head, query_args().head)
    catalog = {"available": lib.factory is not None, "error": lib.error}
    if lib.factory is None:
        counts = dict.fromkeys(
            ("photos", "photos_all", "files", "files_missing", "errors", "corrections"), 0
        )
        return jsonify(head=head, catalog=catalog, counts=counts, **browse.empty_facets())
    factory = lib.factory
    with factory() as session:
        key = ("stats", head, browse.catalog_fingerprint(session))

    def compute() -> dict[str, Any]:
        with factory() as session:
            return {"counts": catalog_stats(session), **browse.facets(session, head)}

    result = lib.results.get_or_compute(key, compute)
    return jsonify(head=head, catalog=catalog, **result)


# --------------------------------------------------------------------------- trips


#: Photos of a trip shown on its card (the rest are one click away in the gallery).
TRIP_PREVIEW = 8


def _trip_home(session: Session, text: str | None, settings_home: str | None) -> Any:
    """Which home counts: ``?home=``, else the one set on the page (the catalog's), else the
    settings', else None (learned from the photos)."""
    from smartalbum.library import trips as tr

    if text:
        try:
            return tr.Home(*tr.parse_home(text), source="user")
        except ValueError as exc:
            raise ProblemError.bad_parameter("home", str(exc)) from None
    stored = tr.stored_home(session)
    if stored is not None:
        return stored
    if settings_home:
        try:
            return tr.Home(*tr.parse_home(settings_home), source="user")
        except ValueError as exc:
            raise ProblemError.bad_parameter("home", str(exc)) from None
    return None


def _all_trips(head: str, text: str | None) -> dict[str, Any]:
    """Home and every trip (oldest first), computed once per catalog change."""
    from smartalbum.library import trips as tr
    from smartalbum.web.state import get_state

    lib = get_library()
    settings = get_state().settings.trips
    if lib.factory is None:
        return {"home": None, "trips": []}
    factory = lib.factory
    with factory() as session:
        given = _trip_home(session, text, settings.home)
        key = ("trips", head, text, given, browse.catalog_fingerprint(session))

    def compute() -> dict[str, Any]:
        with factory() as session:
            photos = list(iter_photos(session, head=head))
        home = given or tr.learn_home(photos)
        if home is None:
            return {"home": None, "trips": []}
        found = tr.find_trips(
            photos,
            home,
            radius_km=settings.radius_km,
            gap_hours=settings.gap_hours,
            min_photos=settings.min_photos,
        )
        taken = {p.id: p.taken_at.isoformat() if p.taken_at else None for p in photos}
        out = [t.to_dict() for t in found]
        for trip in out:
            trip["taken"] = [taken.get(pid) for pid in trip["photo_ids"]]
        return {"home": home.to_dict(), "trips": out}

    return lib.results.get_or_compute(key, compute)


@bp.get("/api/v1/trips")
@api.validate(
    query=TripsQuery,
    resp=responses({200: (Trips, "Home (null when no photo has a position) and the trips")}, [400]),
    operation_id="trips",
)
def trips() -> Response:
    """Trips away from home, newest first, with places, scenes, previews

    Photos far from home grouped by time and place, with their scenes and a few
    thumbnails; home is ``home=LAT,LON``, else the one set on the trips page
    (``PUT /api/v1/trips/home``), else the settings', else learned. Home carries its place
    name (offline GeoNames).
    """
    engine, default_head = engine_and_head()
    args: TripsQuery = query_args()
    head = resolve_head(engine, default_head, args.head)
    result = _all_trips(head, args.home)
    out = []
    for trip in reversed(result["trips"]):  # newest first
        preview = [
            {"id": pid, "thumbnail": url_for("library_api.thumbnail", photo_id=pid)}
            for pid in trip["photo_ids"][:TRIP_PREVIEW]
        ]
        body = {k: v for k, v in trip.items() if k != "taken"}
        out.append({**body, "preview": preview})
    return jsonify(home=result["home"], trips=out)


@bp.get("/api/v1/trips/<trip_id>")
@api.validate(
    query=HeadOnlyQuery,
    resp=responses({200: (TripDetail, "The trip and all its photos")}, [400, 404]),
    operation_id="trip",
)
def trip(trip_id: str) -> Response:
    """One trip with every photo (for its page)"""
    engine, default_head = engine_and_head()
    head = resolve_head(engine, default_head, query_args().head)
    found = next((t for t in _all_trips(head, None)["trips"] if t["id"] == trip_id), None)
    if found is None:
        raise ProblemError(404, "Not Found", f"no trip {trip_id!r}", code="no_trip")
    photos = [
        {"id": pid, "thumbnail": url_for("library_api.thumbnail", photo_id=pid), "taken_at": when}
        for pid, when in zip(found["photo_ids"], found["taken"], strict=True)
    ]
    body = {k: v for k, v in found.items() if k not in ("taken", "photos", "photo_ids")}
    return jsonify({**body, "photos": photos})


@bp.get("/trips/<trip_id>")
def trip_page(trip_id: str) -> str:
    """One trip's page: every photo in a grid the viewer opens (static/trips.js)."""
    from flask import render_template

    return render_template("gallery/trip.html", trip_id=trip_id)


@bp.put("/api/v1/trips/home")
@api.validate(
    query=NoQuery,
    json=HomeBody,
    resp=responses({200: (HomeModel, "The home now (null: learned again)")}, [400, 404, 503]),
    operation_id="setHome",
)
def set_home() -> Response:
    """Set this library's home (kept in the catalog): a position, a photo's, or a place

    Give ``latitude`` and ``longitude``, or ``photo_id`` (its GPS position), or ``place``
    (a town name, offline GeoNames), or ``clear: true`` to learn home from the photos again.
    """
    from smartalbum.library import trips as tr
    from smartalbum.library.db import session_scope
    from smartalbum.library.places import search_places

    body: HomeBody = json_body()
    factory = catalog_factory()
    position: tuple[float, float] | None = None
    if body.clear:
        position = None
    elif body.latitude is not None and body.longitude is not None:
        position = (body.latitude, body.longitude)
    elif body.photo_id is not None:
        with factory() as session:
            photo = session.get(Photo, body.photo_id)
            if photo is None:
                raise photo_not_found(body.photo_id, get_library())
            if photo.latitude is None or photo.longitude is None:
                raise ProblemError.bad_parameter("photo_id", "This photo has no GPS position.")
            position = (photo.latitude, photo.longitude)
    elif body.place:
        matches = search_places(body.place, limit=1)
        if not matches:
            raise ProblemError(404, "Not Found", f"no place {body.place!r}", code="no_place")
        position = (matches[0].latitude, matches[0].longitude)
    else:
        raise ProblemError.bad_parameter(
            "body", "Give latitude and longitude, photo_id, place, or clear."
        )
    with session_scope(factory) as session:
        home = tr.store_home(session, position)
    return jsonify(home=home.to_dict() if home is not None else None)


@bp.get("/api/v1/places")
@api.validate(
    query=PlacesQuery,
    resp=responses({200: (PlaceMatches, "Places of that name, exact first")}, [400]),
    operation_id="searchPlaces",
)
def places() -> Response:
    """Find a town by name (offline GeoNames), e.g. to set home"""
    from smartalbum.library.places import search_places

    args: PlacesQuery = query_args()
    found = search_places(args.q, limit=10)
    return jsonify(
        places=[
            {
                "name": m.label(),
                "country": m.country,
                "latitude": m.latitude,
                "longitude": m.longitude,
            }
            for m in found
        ]
    )
