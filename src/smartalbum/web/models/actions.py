"""Models of the actions of issue 15: add dropped photos to the library, resolve duplicate
groups (and undo), undo a people merge, dismiss a face, a trip's page, the trips' home."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smartalbum.web.models.common import MAX_FILES_MARKER, Body, Id, Model, Query, text

# --------------------------------------------------------------------------- library add


class AddToLibraryForm(BaseModel):
    """Documented only: uploads are parsed by web/multipart.py, never by the model."""

    file: list[bytes] = Field(min_length=1, json_schema_extra={MAX_FILES_MARKER: True})
    # not nullable: a multipart field has no null (a client would send the text "null")
    folder: text(4096) = Field(
        "",
        # what the view takes when the field is sent: an absolute path (or ~/...) without
        # control characters ((?![\s\S]) ends it: a "$" would let a final newline through)
        # (only documented: the form is parsed by the view, and pydantic's regex engine
        # has no lookahead)
        json_schema_extra={"pattern": r"^(/|~/)[^\x00-\x1f\x7f]*(?![\s\S])"},
        description="absolute folder (inside the job roots when set); default under data_dir",
    )


class AddedPhoto(Model):
    filename: str = Field(description="the uploaded file's name")
    status: str = Field(description="added, already (identical file there), or error")
    photo_id: int | None = Field(None, description="the catalog's photo, once indexed")
    path: str | None = Field(None, description="where the file is in the library")
    sha256: str | None = None
    error: dict[str, Any] | None = None


class AddedPhotos(Model):
    folder: str = Field(description="the folder the photos were copied into")
    added: int
    already: int
    failed: int
    photos: list[AddedPhoto]


# --------------------------------------------------------------------------- duplicates


class ResolveBody(Body):
    photo_id: Id = Field(description="the photo of the copy to keep")
    path: text(4096) = Field(description="the path of the copy to keep")


class Resolution(Model):
    resolution: str = Field(description="its name: POST .../resolutions/{name}/undo undoes it")
    folder: str = Field(description="where the other copies were moved")
    moved: int
    failed: list[str] = Field(default_factory=list)
    catalog_warning: str | None = None


class ResolutionUndone(Model):
    resolution: str
    restored: int
    conflicts: list[str] = Field(default_factory=list)
    catalog_warning: str | None = None


# --------------------------------------------------------------------------- people


class MergeUndone(Model):
    merge: int
    people: list[int] = Field(description="the people restored")
    faces: int = Field(description="faces given back their earlier person")


class DismissBody(Body):
    faces: list[Id] = Field(min_length=1, max_length=1000)


class Dismissed(Model):
    dismissed: int


# --------------------------------------------------------------------------- trips


class TripPhoto(Model):
    id: int
    thumbnail: str
    taken_at: str | None = None


class TripDetail(Model):
    id: str
    title: str
    start: str
    end: str
    photos: list[TripPhoto]
    places: list[Any] | None = None


class HomeBody(Body):
    # one way to say where home is (the view refuses a body with none of them)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["latitude", "longitude"],
                 "properties": {"latitude": {"type": "number"}, "longitude": {"type": "number"}}},
                {"required": ["photo_id"], "properties": {"photo_id": {"type": "integer"}}},
                {"required": ["place"], "properties": {"place": {"type": "string", "minLength": 1}}},
                {"required": ["clear"], "properties": {"clear": {"const": True}}},
            ]
        },
    )

    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    photo_id: Id | None = Field(None, description="use this photo's position")
    place: text(200) | None = Field(None, description="a place name (offline GeoNames)")
    clear: bool | None = Field(None, description="forget the home set here: learn it again")


class Home(Model):
    home: dict[str, Any] | None


class PlaceMatch(Model):
    name: str
    country: str | None = None
    latitude: float
    longitude: float


class PlaceMatches(Model):
    places: list[PlaceMatch]


class PlacesQuery(Query):
    q: text(200) = Field(description="a town's name, or its beginning")
