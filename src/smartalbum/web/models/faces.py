"""Models of web/faces_api.py: people, faces, and the face jobs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from smartalbum.web.models.common import Body, Id, Model, Query, text

MAX_ITEMS = 1000

Ids = list[Id]
Name = text(200)


class PeoplePhotosQuery(Query):
    person: list[Annotated[int, Field(ge=0, le=999_999_999)]] = Field(
        min_length=1,
        max_length=10,
        description="a person id; repeat it: photos of X and Y",
        json_schema_extra={"style": "form", "explode": True},
    )


class NewPersonBody(Body):
    faces: Ids = Field(min_length=1, max_length=MAX_ITEMS)
    name: Name | None = None


class PersonBody(Body):
    # at least one of the two (the view refuses an empty body)
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    name: Name = Field(None, description="naming confirms the person's faces")
    birth_date: dt.date | None = Field(None, description="YYYY-MM-DD, or null to clear")


class MergeBody(Body):
    people: Ids = Field(min_length=1, max_length=MAX_ITEMS)


class FacesBody(Body):
    faces: Ids = Field(min_length=1, max_length=MAX_ITEMS)


class ScanBody(Body):
    paths: list[text(4096)] | None = Field(
        None,
        max_length=100,
        description="absolute server folders or files already indexed "
        "(default: every photo of the catalog)",
    )
    rescan: StrictBool | None = None  # 0.0 is not "false" (schemathesis)


class EmptyBody(Body):
    """No fields."""


class PurgeBody(Body):
    confirm: Literal[True]


class Box(BaseModel):
    """Relative to the upright photo (0..1)."""

    x: float
    y: float
    w: float
    h: float


class Face(Model):
    id: int
    photo_id: int
    sha256: str
    path: str | None = Field(None, description="a present copy of the photo")
    box: Box
    landmarks: list[list[float]] = Field(
        description="5 points [x, y] relative to the photo (eye corners, nose)"
    )
    score: float = Field(
        description="detector confidence, 0-1 (faces scanned before the MTCNN detector, "
        "until rescanned: dlib's HOG score, about -0.5 to 3)"
    )
    person_id: int | None
    person_name: str | None = None
    assigned_by: str | None = Field(None, description="auto, user, or null")
    thumbnail: str | None = Field(None, description="URL of a JPEG crop")


class Person(Model):
    id: int
    name: str | None
    birth_date: dt.date | None
    faces: int
    photos: int
    face_list: list[Face] | None = None
    merge: int | None = Field(None, description="after a merge: its id, to undo it")


class PeopleList(Model):
    people: list[Person]
    unassigned: list[Face]
    enabled: bool


class PhotoOfPeople(Model):
    id: int
    sha256: str
    taken_at: str | None = None
    path: str | None = None


class PeoplePhotos(Model):
    people: list[int]
    photos: list[PhotoOfPeople]


class PhotoFaces(Model):
    photo_id: int
    sha256: str
    width: int
    height: int
    scanned: bool
    faces: list[Face]


class Purged(Model):
    deleted: dict[str, int] = Field(description="rows and files deleted, per kind")


SHEET_MAX = 200


class FaceSheetQuery(Query):
    ids: str = Field(
        pattern=rf"^\d{{1,10}}(,\d{{1,10}}){{0,{SHEET_MAX - 1}}}$",
        description=f"face ids, comma-separated (1 to {SHEET_MAX}); the cells follow this order",
        examples=["1,2,3"],
    )
