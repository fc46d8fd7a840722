"""Models of web/categories_api.py: teach, list, correct, retrain, version, export, explain.

Response models are loose (extra fields kept) where the shape grows with features."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from smartalbum.web.models.common import (
    MEDIA_TYPES,
    Body,
    Model,
    Query,
    Sha256,
    head_field,
    one_list_of,
    text,
)

MAX_EXAMPLES = 500
MAX_LIMIT = 1000

Name = text(128)
Description = text(2000, min_length=0)
Hashes = list[Sha256]


class ExamplesBody(BaseModel):
    """Library photos by SHA-256 (a multipart form may upload files under the same names;
    it is documented with the JSON body and parsed by the view). At least one photo."""

    model_config = ConfigDict(json_schema_extra=one_list_of("examples", "counter_examples"))

    examples: Hashes | None = Field(None, max_length=MAX_EXAMPLES)
    counter_examples: Hashes | None = Field(None, max_length=MAX_EXAMPLES)


class NewCategoryBody(ExamplesBody):
    model_config = ConfigDict(json_schema_extra=one_list_of("examples"))

    name: str = Field(description="1 to 128 characters")
    description: str = Field("", max_length=2000)
    examples: Hashes = Field(max_length=MAX_EXAMPLES)


class CategoryEditBody(Body):
    name: str | None = Field(None, description="a new name")
    description: Description | None = None


class MembershipBody(BaseModel):
    sha256: Sha256
    member: bool


class RetrainBody(BaseModel):
    names: list[text(128)] = Field([], max_length=1000, description="default: every category")


class ImportBody(BaseModel):
    """A file written by ``GET .../export`` (or uploaded as the multipart part ``file``)."""

    model_config = ConfigDict(extra="allow")

    format: str = Field(description="smartalbum-category/1")
    name: str | None = None


class ImportQuery(Query):
    name: Name | None = Field(None, description="import under this name")


class PageQuery(Query):
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=10**9)


class ReviewQuery(Query):
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


class ExplainQuery(Query):
    category: Name | None = Field(None, description="explain this category's head")
    head: text(64) | None = head_field("explain this head (default: the app's head)")
    format: Literal["png", "json"] = "png"


class CategoryVersion(Model):
    version: int
    active: bool
    reason: str = Field(description="create, edit, retrain, pseudo, import")
    backbone_version: str | None = None
    threshold: float | None = None
    metrics: dict[str, Any] | None = None
    created_at: str | None = None


class Category(Model):
    name: str
    description: str | None = None
    examples: int
    counter_examples: int
    members: int = Field(description="photos in the category now")
    version: int | None = Field(None, description="the active head version")
    threshold: float | None = None
    created_at: str | None = None
    updated_at: str | None = None
    share: float | None = Field(None, description="share of the library it claims (0-1)")
    size_text: str | None = Field(None, description='e.g. "230 photos, 12 % of your library"')
    confidence: str | None = Field(None, description='"sure", "fairly sure" or "unsure"')
    warning: str | None = Field(None, description="why it may be wrong, in plain words")
    questions: list[int] | None = Field(
        None, description="photo ids whose answers would settle it (the review queue)"
    )
    links: dict[str, str] | None = None
    resort: dict[str, Any] | None = None
    versions: list[CategoryVersion] | None = None
    labels: list[dict[str, Any]] | None = None


class CategoryList(Model):
    categories: list[Category]


class CategoryPhoto(Model):
    photo_id: int
    sha256: str | None
    path: str | None = None
    score: float = Field(description="P(in the category), calibrated")
    thumbnail: str | None = None
    uncertainty: float | None = None
    predicted: bool | None = None


class CategoryPhotos(Model):
    photos: list[CategoryPhoto]
    limit: int | None = None
    offset: int | None = None


class CategoryVersions(Model):
    versions: list[CategoryVersion]


class CategoryExport(Model):
    """Head and examples by sha256."""


class MapRegion(BaseModel):
    """Where a heat-map lies on the photo, as fractions of its width and height (the
    network sees a square: the middle of a wide photo, or the photo padded)."""

    x: float
    y: float
    w: float
    h: float


class Explanation(Model):
    """The heat-map as numbers (``format=json``), or the photo with it (``format=png``)."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={MEDIA_TYPES: ["image/png", "application/json"]}
    )

    photo_id: int
    head: str
    label: str
    probability: float
    map: list[list[float]]
    region: MapRegion | None = Field(
        None, description="the part of the upright photo the map covers, as fractions"
    )
