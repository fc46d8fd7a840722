"""Actions on many photos at once: what the gallery's selection bar sends.

* ``POST /api/v1/photos/bulk/label`` — one correction per photo (the same rule as
  ``PATCH /api/v1/photos/<id>``: the label must be one of the head's), in one transaction;
* ``POST /api/v1/photos/bulk/tags`` — add and remove tags on every photo (the tags store's
  rules: a removed tag is remembered, a user's tag wins over automatic tagging);
* ``POST /api/v1/photos/bulk/export`` — the selection as a CSV or a list of paths, as a
  download.

``POST /api/v1/corrections/withdraw`` takes corrections back by id (the gallery's undo).
Adding the selection as examples of a category uses the categories API as it is (by the
photos' sha256), and organising it is an ``organize`` job with ``photo_ids``. Ids the
catalog lacks are reported in ``not_found`` and skipped: a selection made a minute ago may
name a photo another client removed, and the rest must still be done.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smartalbum.library.catalog import add_correction
from smartalbum.library.schema import Correction, Photo
from smartalbum.web.contract import api, json_body, responses
from smartalbum.web.library_api import (
    catalog_factory,
    engine_and_head,
    known_label,
    load_records,
    photo_item,
    resolve_head,
)
from smartalbum.web.models.selection import (
    BulkLabelBody,
    BulkLabelResult,
    BulkTagsBody,
    BulkTagsResult,
    ExportBody,
    ExportFile,
    WithdrawBody,
    WithdrawResult,
)
from smartalbum.web.problems import ProblemError

bp = Blueprint("selection_api", __name__)

#: Columns of the CSV export, in order.
CSV_COLUMNS = (
    "id", "path", "taken_at", "label", "label_source", "camera", "city", "country",
    "width", "height", "size", "sha256",
)  # fmt: skip
#: Ids asked of the database at once (well under SQLite's bound-parameter limit).
CHUNK = 500


def unique(ids: Iterable[int]) -> list[int]:
    """``ids`` without repeats, in the order sent."""
    return list(dict.fromkeys(ids))


def existing(session: Session, ids: list[int]) -> set[int]:
    """The ids of ``ids`` the catalog holds."""
    found: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found.update(session.scalars(select(Photo.id).where(Photo.id.in_(chunk))))
    return found


@bp.post("/api/v1/photos/bulk/label")
@api.validate(
    json=BulkLabelBody,
    resp=responses({200: (BulkLabelResult, "The corrections recorded")}, [400, 503]),
    operation_id="correctPhotos",
)
def bulk_label() -> Response:
    """Correct the label of many photos (one correction each, all or none)

    The label must be one of the head's labels, as for one photo. Ids the catalog lacks
    are listed in not_found; the others are corrected in one transaction.
    """
    engine, default_head = engine_and_head()
    body: BulkLabelBody = json_body()
    head = resolve_head(engine, default_head, body.head)
    label = known_label(engine, head, body.label)
    ids = unique(body.ids)
    with catalog_factory()() as session:
        found = existing(session, ids)
        done = [i for i in ids if i in found]
        made = [add_correction(session, i, label, head=head, source="web").id for i in done]
        session.commit()
        items = _items(session, done, head)
    return jsonify(
        label=label,
        head=head,
        corrected=len(done),
        corrections=made,
        ids=done,
        not_found=[i for i in ids if i not in found],
        items=items,
    )


@bp.post("/api/v1/corrections/withdraw")
@api.validate(
    json=WithdrawBody,
    resp=responses({200: (WithdrawResult, "The corrections withdrawn")}, [400, 503]),
    operation_id="withdrawCorrections",
)
def withdraw_corrections() -> Response:
    """Withdraw corrections (the gallery's undo): the label that counted before is back

    Only the corrections named are removed, by id (as returned by a bulk label); ids that
    are gone already are skipped. Answers the photos as they are now.
    """
    engine, default_head = engine_and_head()
    body: WithdrawBody = json_body()
    head = resolve_head(engine, default_head, body.head)
    wanted = unique(body.ids)
    with catalog_factory()() as session:
        photo_ids: list[int] = []
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            rows = session.execute(
                select(Correction.id, Correction.photo_id).where(Correction.id.in_(chunk))
            ).all()
            photo_ids += [pid for _, pid in rows]
            session.execute(delete(Correction).where(Correction.id.in_([cid for cid, _ in rows])))
        session.commit()
        photo_ids = unique(photo_ids)
        items = _items(session, photo_ids, head)
    return jsonify(withdrawn=len(photo_ids), ids=photo_ids, items=items)


def _items(session: Session, ids: list[int], head: str) -> list[dict[str, Any]]:
    """Tiles of ``ids`` as the photo list shows them (to redraw them after a change)."""
    records = []
    for start in range(0, len(ids), CHUNK):
        records += load_records(session, ids[start : start + CHUNK], head)
    return [photo_item(r) for r in records]


@bp.post("/api/v1/photos/bulk/tags")
@api.validate(
    json=BulkTagsBody,
    resp=responses({200: (BulkTagsResult, "The tags changed")}, [400, 503]),
    operation_id="tagPhotos",
)
def bulk_tags() -> Response:
    """Add and remove tags on many photos

    The tags store's rules hold: tags are normalised, a removed tag is remembered (automatic
    tagging never brings it back). Search sees the change at once.
    """
    from smartalbum.tags.store import add_tag, remove_tag

    body: BulkTagsBody = json_body()
    if not body.add and not body.remove:
        raise ProblemError.bad_parameter("add", "give tags to 'add' or 'remove'")
    ids = unique(body.ids)
    added = removed = 0
    with catalog_factory()() as session:
        found = existing(session, ids)
        done = [i for i in ids if i in found]
        try:
            for photo_id in done:
                for tag in body.add:
                    add_tag(session, photo_id, tag)
                    added += 1
                for tag in body.remove:
                    removed += bool(remove_tag(session, photo_id, tag))
        except ValueError as exc:
            raise ProblemError(400, "Bad Request", f"tag: {exc}.", code="invalid_tag") from None
        session.commit()
    _search_sees_edits()
    missing = [i for i in ids if i not in found]
    return jsonify(ids=done, not_found=missing, added=added, removed=removed)


def _search_sees_edits() -> None:
    """Tag edits are searchable at once (the search index otherwise trusts itself briefly)."""
    from smartalbum.web.search_api import EXTENSION_KEY

    service = current_app.extensions.get(EXTENSION_KEY)
    if service is not None:
        service.invalidate()


@bp.post("/api/v1/photos/bulk/export")
@api.validate(
    json=ExportBody,
    resp=responses({200: (ExportFile, "The list, as an attachment")}, [400, 503]),
    operation_id="exportPhotos",
)
def bulk_export() -> Response:
    """The selected photos as a CSV (one row each) or a text list of their paths

    In the order sent; a photo without a copy on disk has an empty path. Sent as an
    attachment (photos.csv or photos.txt).
    """
    engine, default_head = engine_and_head()
    body: ExportBody = json_body()
    head = resolve_head(engine, default_head, body.head)
    ids = unique(body.ids)
    with catalog_factory()() as session:
        records = []
        for start in range(0, len(ids), CHUNK):
            records += load_records(session, ids[start : start + CHUNK], head)
    if body.format == "text":
        text = "".join(f"{r.path or ''}\n" for r in records)
        return _attachment(text, "text/plain", "photos.txt")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        source = (
            "correction" if r.correction is not None else ("prediction" if r.prediction else "")
        )
        writer.writerow(
            [
                r.id,
                r.path or "",
                r.taken_at.isoformat() if r.taken_at else "",
                r.label or "",
                source,
                r.camera or "",
                r.city or "",
                r.country or "",
                r.width,
                r.height,
                r.size,
                r.sha256,
            ]  # fmt: skip
        )
    return _attachment(out.getvalue(), "text/csv", "photos.csv")


def _attachment(text: str, mimetype: str, filename: str) -> Response:
    resp = Response(text, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp
