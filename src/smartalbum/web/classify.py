"""Classify a batch of uploaded photos: cache lookup, decode, one engine call.

Kept free of Flask so the rule "one bad photo never spoils the batch" is plain code:
every upload gets exactly one result, either a prediction or its typed error. Uploads are
consumed one at a time, so only one photo's raw bytes are held at once (decoded images
are small: the decoder shrinks them to the working size while decoding).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from smartalbum.imaging import CorruptImageError, PhotoError, load_photo
from smartalbum.model.engine import Engine
from smartalbum.model.pipeline import working_side
from smartalbum.web.cache import CacheKey, ResultCache
from smartalbum.web.models.classify import Result

#: The fields of an upload's result, as the API model names them.
RESULT_FIELDS = tuple(Result.model_fields)

log = logging.getLogger(__name__)


def photo_error_dict(error: PhotoError) -> dict[str, str]:
    """``error.to_dict()`` without the decoder's "<bytes>: " source prefix in ``detail``
    (an upload has no path; the client knows its filename)."""
    out = error.to_dict()
    prefix = f"{error.source}: " if error.source else ""
    if prefix and out["detail"].startswith(prefix):
        out["detail"] = out["detail"][len(prefix) :]
    return out


@dataclass
class ItemResult:
    """One upload's outcome, in the API's JSON shape (see docs/api.md)."""

    filename: str
    sha256: str
    prediction: dict[str, Any] | None = None
    cached: bool = False
    error: PhotoError | None = None

    def to_dict(self) -> dict[str, Any]:
        """The API's ``Result`` (web/models/classify.py): its fields, in its order, so the
        document and the answer have one shape (a field the model gains and this does not
        fill is a KeyError in the tests, not a silent gap). Built as a plain dict: a
        pydantic dump per photo would cost 15x more on large batches."""
        p = self.prediction or {}
        values = {
            "filename": self.filename,
            "sha256": self.sha256,
            "label": p.get("label"),
            "confidence": p.get("confidence"),
            "uncertain": p.get("uncertain"),
            "probabilities": p.get("probabilities"),
            "cached": self.cached,
            "error": photo_error_dict(self.error) if self.error else None,
        }
        return {name: values[name] for name in RESULT_FIELDS}


def _decode(data: bytes, filename: str, max_side: int, max_pixels: int) -> np.ndarray:
    """Upright RGB at working size; any decoder failure becomes a typed PhotoError."""
    try:
        # the cache key already hashed these bytes: don't hash them twice
        return load_photo(data, max_side=max_side, max_pixels=max_pixels, digest=False).image
    except PhotoError:
        raise
    except Exception as exc:  # a decoder bug must not turn bad input into a 500
        log.exception("decoder failed on %r", filename)
        raise CorruptImageError(f"could not decode the image ({type(exc).__name__})") from exc


def classify_uploads(
    uploads: Iterable[tuple[str, bytes]],
    *,
    engine: Engine,
    head: str,
    cache: ResultCache,
    max_pixels: int,
) -> list[ItemResult]:
    """(filename, bytes) pairs -> one :class:`ItemResult` each, in order.

    Cache hits skip decoding and the model; the remaining photos are classified together
    in one engine call.
    """
    side = working_side(engine)
    results: list[ItemResult] = []
    todo: list[tuple[ItemResult, CacheKey]] = []
    images: list[np.ndarray] = []
    for filename, data in uploads:
        item = ItemResult(filename=filename, sha256=hashlib.sha256(data).hexdigest())
        results.append(item)
        key = CacheKey(item.sha256, engine.version, head)
        hit = cache.get(key)
        if hit is not None:
            item.prediction, item.cached = hit, True
            continue
        try:
            images.append(_decode(data, filename, side, max_pixels))
        except PhotoError as exc:
            item.error = exc
            continue
        todo.append((item, key))
    if images:
        for (item, key), pred in zip(todo, engine.classify(images, head), strict=True):
            item.prediction = pred.to_dict()
            cache.put(key, item.prediction)
    return results
