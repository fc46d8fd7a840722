"""Models of web/api.py: classify uploads, the model, health, and the seed's endpoint."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smartalbum.web.models.common import MAX_FILES_MARKER, Model, Query, Sha256, head_field


class HeadQuery(Query):
    head: str | None = head_field("head name; the form field wins over this")


class UploadForm(BaseModel):
    """Documented only: uploads are parsed by web/multipart.py, never by the model."""

    file: list[bytes] = Field(min_length=1, json_schema_extra={MAX_FILES_MARKER: True})
    head: str | None = head_field("head name (optional)")


class CompatUploadForm(BaseModel):
    file: bytes


class PhotoError(BaseModel):
    code: str = Field(
        description="empty_file, not_an_image, unsupported_format, corrupt_image, "
        "too_many_pixels, ..."
    )
    title: str
    detail: str


class Result(BaseModel):
    """One uploaded photo: a prediction, or an error (then label etc. are null)."""

    filename: str
    sha256: Sha256
    label: str | None
    confidence: float | None = Field(ge=0, le=1)
    uncertain: bool | None
    probabilities: dict[str, float] | None
    cached: bool
    error: PhotoError | None


class ModelRef(BaseModel):
    name: str
    version: str
    head: str


class ClassifyResponse(BaseModel):
    results: list[Result]
    model: ModelRef


class ClassifyCompatResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    label: str = Field(alias="class")


class Head(Model):
    name: str
    description: str | None = None
    labels: list[str]
    threshold: float
    metrics: dict[str, Any]


class Limits(BaseModel):
    max_upload_mb: float
    max_files: int


class ModelInfo(Model):
    name: str
    version: str
    default_head: str
    backbone: dict[str, Any] | None = None
    preprocess: dict[str, Any] | None = None
    heads: list[Head]
    limits: Limits


class Status(Model):
    status: str
    model: dict[str, Any] | None = None
    checks: dict[str, Any] | None = Field(
        None, description="/readyz: per dependency (model, database, broker, worker) ok + detail"
    )
    cached: bool | None = Field(None, description="/readyz: answered from the last check")


class OpenAPIDocument(Model):
    """This document."""
