"""Models of web/library_api.py: photos, thumbnails, corrections, duplicates, stats, trips."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from smartalbum.library.browse import MAX_LIMIT, MAX_YEAR
from smartalbum.web.models.common import Body, Model, Query, Sha256, Short, head_field, text

Cursor = text(1000)


# --------------------------------------------------------------------------- queries


class HeadOnlyQuery(Query):
    head: str | None = head_field("whose predictions count (default: the app's head)")


class PhotoFilters(HeadOnlyQuery):
    """Filters combine (AND)."""

    label: Short | None = Field(
        None, description="the label that counts (correction, else prediction)"
    )
    uncertain: bool | None = Field(None, description="predicted below the threshold, not corrected")
    blurry: bool | None = Field(None, description="blur score below the threshold")
    bad_exposure: bool | None = Field(None, description="exposure verdict under or over")
    review: bool | None = Field(None, description="any of uncertain, blurry, badly exposed")
    year: int | None = Field(None, ge=1, le=MAX_YEAR, description="year")
    month: int | None = Field(None, ge=1, le=12, description="month")
    country: text(2) | None = Field(None, description="ISO 3166 alpha-2 country code")
    place: Short | None = Field(None, description="city name (as in stats.places)")
    camera: Short | None = Field(
        None, description="camera model (or make when the model is unknown)"
    )
    q: Short | None = Field(None, description="text in the place, the camera or a file path")


class PhotoListQuery(PhotoFilters):
    """Filters combine (AND)."""

    limit: int = Field(60, ge=1, le=MAX_LIMIT, description="items per page")
    cursor: Cursor | None = Field(None, description="next_cursor of the previous page (opaque)")


class DuplicatesQuery(Query):
    near: bool = Field(True, description="include near-duplicates")
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="items per page")
    cursor: Cursor | None = Field(None, description="next_cursor of the previous page (opaque)")


#: LAT,LON in decimal degrees, in range: what ``library.trips.parse_home`` accepts, said
#: in the document (a schema-valid home is never refused).
_LAT = r"-?(?:90(?:\.0+)?|[1-8]?[0-9](?:\.[0-9]+)?)"
_LON = r"-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[1-9]?[0-9])(?:\.[0-9]+)?)"
HOME_PATTERN = rf"^ *{_LAT} *, *{_LON} *$"


class TripsQuery(HeadOnlyQuery):
    home: Annotated[str, StringConstraints(max_length=64, pattern=HOME_PATTERN)] | None = Field(
        None, description="home as LAT,LON (default: settings, else learned)"
    )


class CorrectionBody(Body):
    label: Short = Field(description="a label of the head")
    head: str | None = head_field()


# --------------------------------------------------------------------------- photos


class PhotoItem(Model):
    """A photo of the catalog, as a gallery tile shows it."""

    id: int
    sha256: Sha256
    path: str | None = Field(description="first present copy")
    taken_at: str | None = Field(
        description="camera local time, ISO 8601 without offset (see metadata)"
    )
    taken_at_source: str | None = Field(description="exif, or file (modification time)")
    width: int
    height: int
    format: str
    size: int = Field(description="bytes")
    camera: str | None
    city: str | None
    region: str | None
    country: str | None = Field(description="ISO 3166 alpha-2")
    label: str | None = Field(description="the latest correction, else the prediction")
    label_source: str | None = Field(description="correction or prediction")
    confidence: float | None = Field(description="the prediction's, even when corrected")
    uncertain: bool = Field(description="predicted below the threshold and not corrected")
    review: list[str] = Field(
        description="why it is on the review list: uncertain, blurry, exposure"
    )
    thumbnail: str = Field(description="URL of the JPEG thumbnail")


class PhotoPage(Model):
    items: list[PhotoItem]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null at the end")
    limit: int
    head: str


class FileInfo(Model):
    path: str
    status: str = Field(description="present or missing")
    size: int
    mtime_ns: int
    first_seen: str | None = None
    last_seen: str | None = None


class Metadata(Model):
    taken_at: str | None = None
    taken_at_source: str | None = None
    tz_offset_min: int | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    size: int | None = None
    phash: str | None = None
    dhash: str | None = None


class Place(Model):
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None


class Quality(Model):
    blur: float | None = None
    blurry: bool | None = None
    exposure_mean: float | None = None
    exposure_dark: float | None = None
    exposure_bright: float | None = None
    exposure_verdict: str | None = None


class Prediction(Model):
    """The head's latest prediction (the one that counts)."""

    label: str | None = None
    confidence: float | None = None
    uncertain: bool | None = None
    probabilities: dict[str, float] | None = None
    head: str | None = None
    head_version: str | None = None


class StoredPrediction(Prediction):
    backbone_version: str | None = None
    created_at: str | None = None


class Correction(Model):
    id: int
    label: str
    head: str | None = None
    source: str
    created_at: str | None = None


class PhotoDetail(PhotoItem):
    """Everything the catalog holds on a photo (but its embedding)."""

    files: list[FileInfo]
    metadata: Metadata
    place: Place
    quality: Quality
    prediction: Prediction | None
    predictions: list[StoredPrediction] = Field(description="every stored prediction, newest first")
    corrections: list[Correction] = Field(
        description="the user's labels, newest (the one that counts) first"
    )


class TimelineMonth(Model):
    """One month of the listing (year and month null: the undated photos)."""

    year: int | None
    month: int | None = Field(description="1..12")
    count: int
    cursor: str = Field(
        description="GET /api/v1/photos with the same filters and this cursor "
        "starts at the month's newest photo"
    )


class Timeline(Model):
    """Photos per month of the filtered listing, newest first, the undated last."""

    head: str
    total: int
    months: list[TimelineMonth]


# --------------------------------------------------------------------------- duplicates


class DuplicateMember(Model):
    photo_id: int
    path: str | None
    width: int
    height: int
    taken_at: str | None
    blur: float | None
    sha256: str
    size: int
    thumbnail: str | None = None


class DuplicateGroup(Model):
    group: int = Field(description="1-based position in the whole listing")
    kind: str = Field(description="exact or near")
    keep: DuplicateMember
    reason: str = Field(description="why the first member is the one to keep")
    members: list[DuplicateMember] = Field(min_length=2)
    max_hamming: int | None = None
    min_cosine: float | None = None
    max_pixel_diff: float | None = None


class DuplicatesPage(Model):
    groups: list[DuplicateGroup]
    total: int
    next_cursor: str | None


# --------------------------------------------------------------------------- stats


class CatalogState(BaseModel):
    available: bool
    error: str | None


class LabelCount(BaseModel):
    label: str
    count: int


class MonthCount(BaseModel):
    month: int
    count: int


class YearCount(BaseModel):
    year: int
    count: int
    months: list[MonthCount]


class CountryCount(BaseModel):
    country: str
    count: int


class PlaceCount(BaseModel):
    country: str
    region: str | None = None
    city: str
    count: int


class CameraCount(BaseModel):
    camera: str
    make: str | None = None
    model: str | None = None
    count: int


class ReviewCounts(BaseModel):
    uncertain: int
    blurry: int
    bad_exposure: int
    any: int


class Stats(Model):
    head: str
    catalog: CatalogState
    counts: dict[str, int]
    photos: int = Field(description="photos with a copy on disk")
    labels: list[LabelCount]
    unlabelled: int
    years: list[YearCount]
    undated: int
    countries: list[CountryCount]
    places: list[PlaceCount]
    cameras: list[CameraCount]
    review: ReviewCounts


# --------------------------------------------------------------------------- trips


class Trip(Model):
    id: str
    title: str
    start: str
    end: str
    photos: int
    photo_ids: list[int] | None = None
    places: list[Any] | None = None
    labels: dict[str, Any] | None = None
    preview: list[Any] | None = None


class Trips(Model):
    """Home (null when no photo has a position) and the trips."""

    home: dict[str, Any] | None
    trips: list[Trip]
