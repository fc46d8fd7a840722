"""The batch classifier behind the API: one result per upload, one engine call per batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smartalbum.imaging import EmptyFileError
from smartalbum.model.engine import Engine
from smartalbum.web import classify as classify_mod
from smartalbum.web.cache import LRUResultCache
from smartalbum.web.classify import classify_uploads, photo_error_dict
from smartalbum.web.models.classify import Result


@pytest.fixture(scope="module")
def engine(tiny_bundle_dir: Path) -> Engine:
    return Engine.load(tiny_bundle_dir, threads=1)


class SpyEngine:
    """Counts classify() calls and their batch sizes, delegating to the real engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.calls: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def classify(self, images: list, head: str | None = None) -> list:
        self.calls.append(len(images))
        return self._engine.classify(images, head)


def run(engine: Any, uploads: list[tuple[str, bytes]], cache: LRUResultCache | None = None):
    return classify_uploads(
        uploads,
        engine=engine,
        head="colours",
        cache=cache if cache is not None else LRUResultCache(16),
        max_pixels=10_000_000,
    )


def test_results_keep_upload_order_and_bad_files_do_not_spoil_the_batch(engine, photo) -> None:
    spy = SpyEngine(engine)
    uploads = [
        ("b.jpg", photo("blue")),
        ("notes.txt", b"just text"),
        ("r.png", photo("red", fmt="PNG")),
        ("empty.jpg", b""),
        ("g.jpg", photo("green")),
    ]
    results = run(spy, uploads)
    assert [r.filename for r in results] == [name for name, _ in uploads]
    assert [r.prediction["label"] if r.prediction else None for r in results] == [
        "blue",
        None,
        "red",
        None,
        "green",
    ]
    assert results[1].error.code == "not_an_image"
    assert results[3].error.code == "empty_file"
    assert spy.calls == [3]  # the three good photos, together


def test_cache_hits_skip_decoding_and_the_model(engine, photo, monkeypatch) -> None:
    decoded: list[int] = []
    real = classify_mod.load_photo
    monkeypatch.setattr(
        classify_mod, "load_photo", lambda data, **kw: decoded.append(1) or real(data, **kw)
    )
    spy = SpyEngine(engine)
    cache = LRUResultCache(16)
    first = run(spy, [("a.jpg", photo("red", seed=1))], cache)
    second = run(spy, [("renamed.jpg", photo("red", seed=1))], cache)
    assert not first[0].cached and second[0].cached
    assert second[0].prediction == first[0].prediction
    assert second[0].sha256 == first[0].sha256
    assert len(decoded) == 1 and spy.calls == [1]


def test_a_decoder_crash_becomes_a_typed_item_error(engine, photo, monkeypatch) -> None:
    def boom(data: bytes, **kw: Any) -> None:
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(classify_mod, "load_photo", boom)
    (result,) = run(engine, [("x.jpg", photo("red"))])
    assert result.error is not None and result.error.code == "corrupt_image"
    assert "decoder bug" not in result.to_dict()["error"]["detail"]


def test_item_dict_has_the_documented_shape(engine, photo) -> None:
    good, bad = run(engine, [("r.jpg", photo("red")), ("x.bin", b"\x00\x01")])
    assert set(good.to_dict()) == {
        "filename",
        "sha256",
        "label",
        "confidence",
        "uncertain",
        "probabilities",
        "cached",
        "error",
    }
    g = good.to_dict()
    assert g["error"] is None and list(g["probabilities"]) == ["red", "green", "blue"]
    b = bad.to_dict()
    assert b["label"] is b["confidence"] is b["probabilities"] is b["uncertain"] is None
    assert set(b["error"]) == {"code", "title", "detail"}
    # one shape: the API model the document is generated from
    for item in (g, b):
        assert list(item) == list(Result.model_fields)
        assert Result.model_validate(item).model_dump() == item


def test_error_detail_drops_the_decoders_source_prefix() -> None:
    err = EmptyFileError("<bytes>: the file is empty (0 bytes)", source="<bytes>")
    assert photo_error_dict(err)["detail"] == "the file is empty (0 bytes)"
    plain = EmptyFileError("nothing here")
    assert photo_error_dict(plain)["detail"] == "nothing here"
