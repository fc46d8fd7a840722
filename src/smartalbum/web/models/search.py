"""Models of web/search_api.py: search, and a photo's tags."""

from __future__ import annotations

from pydantic import BaseModel, Field

from smartalbum.tags.search import DEFAULT_LIMIT, MAX_QUERY_LENGTH
from smartalbum.web.models.common import Body, Model, Query, text
from smartalbum.web.models.library import PhotoItem

MAX_LIMIT = 200


class SearchQuery(Query):
    q: text(MAX_QUERY_LENGTH) = Field(description="the words to look for")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class TagBody(Body):
    tag: text(64) = Field(description="the tag (normalised: lower case, trimmed)")


class Tag(BaseModel):
    tag: str
    confidence: float = Field(ge=0, le=1)
    source: str = Field(description="auto or user")


class PhotoTags(Model):
    photo_id: int
    tags: list[Tag]
    removed: list[str] = Field(description="tags the user removed (never given back automatically)")


class SearchHit(Model):
    photo_id: int
    score: float
    matched: int
    why: list[str]
    photo: PhotoItem | None = None


class SearchResults(Model):
    query: str
    total: int = Field(description="photos matching (all pages)")
    parts: list[str]
    unmatched: list[str] = Field(description="query words nothing in the catalog matched")
    dates: list[str]
    semantic: bool = Field(description="near words were matched (the text model is installed)")
    message: str | None = None
    results: list[SearchHit]
