"""Models of web/selection_api.py: actions on many photos at once (the gallery's selection)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from smartalbum.web.models.common import (
    Body,
    Id,
    Model,
    Short,
    binary,
    head_field,
    one_list_of,
    text,
)
from smartalbum.web.models.library import PhotoItem

#: Most photos one bulk request may name (a selection is made of loaded tiles).
MAX_SELECTION = 10_000
#: Most tags one bulk request may add plus remove.
MAX_TAGS = 20

PhotoIds = list[Id]


class SelectionBody(Body):
    ids: PhotoIds = Field(
        min_length=1, max_length=MAX_SELECTION, description="photo ids (duplicates ignored)"
    )


class BulkLabelBody(SelectionBody):
    label: Short = Field(description="a label of the head")
    head: str | None = head_field()


class BulkTagsBody(SelectionBody):
    # tags to add, to remove, or both (the view refuses neither)
    model_config = ConfigDict(extra="forbid", json_schema_extra=one_list_of("add", "remove"))

    add: list[text(64)] = Field(
        default_factory=list, max_length=MAX_TAGS, description="tags to add to every photo"
    )
    remove: list[text(64)] = Field(
        default_factory=list, max_length=MAX_TAGS, description="tags to remove from every photo"
    )


class ExportBody(SelectionBody):
    format: Literal["csv", "text"] = Field(
        "csv", description="csv (one row per photo) or text (one path a line)"
    )
    head: str | None = head_field("whose labels the CSV shows (default: the app's head)")


class BulkResult(Model):
    """What a bulk action did: the photos it changed, and the ids the catalog lacks."""

    ids: list[int] = Field(description="photos the action applied to, in the order sent")
    not_found: list[int] = Field(description="ids not in the catalog (nothing done to them)")


class BulkLabelResult(BulkResult):
    label: str
    head: str
    corrected: int = Field(description="corrections recorded")
    corrections: list[int] = Field(description="their ids (POST /api/v1/corrections/withdraw)")
    items: list[PhotoItem] = Field(description="the photos as they are now")


class WithdrawBody(Body):
    ids: list[Id] = Field(min_length=1, max_length=MAX_SELECTION, description="correction ids")
    head: str | None = head_field("whose labels the answer shows (default: the app's head)")


class WithdrawResult(Model):
    withdrawn: int = Field(description="photos whose corrections were withdrawn")
    ids: list[int] = Field(description="those photos")
    items: list[PhotoItem] = Field(description="the photos as they are now")


class BulkTagsResult(BulkResult):
    added: int = Field(description="tags added (photo × tag)")
    removed: int = Field(description="tags removed (photo × tag that was there)")


#: The export's body: CSV or plain text, as an attachment.
ExportFile = binary("text/csv", "text/plain")
