"""Models of web/photos_api.py: a photo's original file and its display-size preview."""

from __future__ import annotations

import enum

from pydantic import Field

from smartalbum.library.thumbnails import PREVIEW_SIDES
from smartalbum.web.models.common import Query, binary

#: The preview sizes (an enum: a query string's "1600" is validated as the number).
PreviewSize = enum.IntEnum("PreviewSize", {f"px{side}": side for side in PREVIEW_SIDES})  # type: ignore[misc]


class OriginalQuery(Query):
    download: bool = Field(
        False, description="answer as an attachment (Content-Disposition), to save the file"
    )


class PreviewQuery(Query):
    size: PreviewSize = Field(  # type: ignore[valid-type]
        PreviewSize(PREVIEW_SIDES[0]),
        description="longest side of the preview, px (never enlarged)",
    )


#: The originals' media types (what the indexer reads), and any other as octet-stream.
Original = binary(
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/tiff",
    "image/heif",
    "image/gif",
    "image/bmp",
    "application/octet-stream",
)
