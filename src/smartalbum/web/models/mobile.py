"""Models of mobile/web.py: the mobile bundle and its manifest."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from smartalbum.web.models.common import Model, binary

MobileZip = binary("application/zip")


class SourceBundle(BaseModel):
    name: str | None = None
    version: str | None = None


class FileDigest(BaseModel):
    bytes: int | None = None
    sha256: str | None = None


class MobileManifest(Model):
    format: Literal["smartalbum-mobile/1"]
    name: str
    source_bundle: SourceBundle
    backbone: dict[str, Any]
    decode: dict[str, Any] | None = None
    default_head: str | None = None
    files: dict[str, FileDigest]
    written_by: dict[str, Any] | None = None
    created: str | None = None
