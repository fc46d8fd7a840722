"""Building blocks of every blueprint's models, and the problem document."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

#: Markers in a model's JSON schema that the document (web/contract.py) fills from the
#: app's settings: the loaded heads, and the most files one upload may hold.
HEAD_MARKER = "x-smartalbum-head"
MAX_FILES_MARKER = "x-smartalbum-max-files"
#: A response model whose body is not JSON names its media types here.
MEDIA_TYPES = "x-media-types"
#: Ids are 32-bit in the catalog's schema.
MAX_ID = 2**31 - 1
SHA256_PATTERN = "^[0-9a-f]{64}$"

#: A short text parameter: 1 to 200 characters, no control characters (never useful, and
#: PostgreSQL refuses NUL in text: a 400 here, not a 500 there).
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"


def text(max_length: int = 200, min_length: int = 1) -> Any:
    """A text parameter of ``min_length`` to ``max_length`` characters without control ones."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_CONTROL),
    ]


Short = text()
Sha256 = Annotated[str, StringConstraints(pattern=SHA256_PATTERN)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def head_field(description: str = "head name (default: the app's head)") -> Any:
    """A ``head`` parameter or field: the document lists the loaded heads (see contract)."""
    return Field(None, description=description, json_schema_extra={HEAD_MARKER: True})


class Model(BaseModel):
    """A JSON object of the API (responses keep fields the model does not name)."""

    model_config = ConfigDict(extra="allow")


class Body(BaseModel):
    """A request body: a field the route does not take is a 400, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Query(BaseModel):
    """Query parameters: an unknown one is a 400 ``unknown_parameter`` naming the allowed
    ones (a typo never silently lists everything)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise PydanticCustomError(
                    "unknown_parameter",
                    "unknown parameter(s) {unknown}",
                    {"unknown": ", ".join(unknown), "allowed": ", ".join(sorted(cls.model_fields))},
                )
        return data


class NoQuery(Query):
    """A route that takes no query parameter."""


def binary(*media_types: str) -> type[BaseModel]:
    """A response model documenting a non-JSON body of ``media_types``."""

    class Binary(BaseModel):
        model_config = ConfigDict(json_schema_extra={MEDIA_TYPES: list(media_types)})

    Binary.__name__ = "Binary_" + "_".join(t.split("/")[1] for t in media_types)
    return Binary


class Problem(Model):
    """An error (RFC 9457 problem details)."""

    type: str = Field(description="urn:smartalbum:problem:CODE or about:blank")
    title: str
    status: int
    detail: str
    code: str | None = Field(None, description="stable machine-readable error code")
    filename: str | None = None
    available: list[str] | None = None
    parameter: str | None = Field(None, description="the query parameter or body field at fault")


JPEG = binary("image/jpeg")


def one_list_of(*names: str) -> dict[str, Any]:
    """JSON schema: at least one of ``names`` is a non-empty list (the view's own rule)."""
    return {
        "anyOf": [
            {"required": [n], "properties": {n: {"type": "array", "minItems": 1}}}
            for n in names
        ]
    }
