"""Heads, bundles and the ONNX engine (with the tiny real bundle from tests/bundles.py)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from bundles import colour_head, make_tiny_bundle
from smartalbum.errors import SmartAlbumError
from smartalbum.model.bundle import Bundle, BundleError, UnknownHeadError
from smartalbum.model.engine import Engine
from smartalbum.model.heads import Head


def solid(colour: tuple[int, int, int], h: int = 40, w: int = 70) -> np.ndarray:
    return np.full((h, w, 3), colour, dtype=np.uint8)


def test_head_json_round_trip_keeps_predictions(tmp_path: Path):
    rng = np.random.default_rng(1)
    head = Head(
        name="mlp", labels=["a", "b"],
        weights=[rng.normal(size=(8, 5)).astype(np.float32), rng.normal(size=(5, 2)).astype(np.float32)],
        biases=[np.zeros(5, np.float32), np.array([0.1, -0.1], np.float32)],
        mean=rng.normal(size=8).astype(np.float32), scale=np.full(8, 2.0, np.float32),
        temperature=1.7, threshold=0.6,
    )
    head.save(tmp_path / "h.json")
    again = Head.load(tmp_path / "h.json")
    x = rng.normal(size=(4, 8)).astype(np.float32)
    np.testing.assert_allclose(head.probabilities(x), again.probabilities(x), rtol=1e-6)
    assert again.version == head.version
    again.threshold = 0.7
    assert again.version != head.version
    before = again.version
    again.weights = [w * 2 for w in again.weights]  # new arrays: a new version
    assert again.version != before


def test_temperature_softens_and_threshold_marks_uncertain():
    head = colour_head()
    x = np.zeros((1, 48), np.float32)
    x[0, :16] = 1.0
    sharp = head.probabilities(x)[0].max()
    head.temperature = 5.0
    assert head.probabilities(x)[0].max() < sharp
    head.threshold = 0.99
    assert head.predict(x)[0].uncertain


def test_head_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        Head(name="x", labels=["a"], weights=[np.zeros((4, 2))], biases=[np.zeros(2)])
    with pytest.raises(ValueError):
        colour_head().logits(np.zeros((2, 7), np.float32))
    with pytest.raises(ValueError):
        Head.from_dict({"format": "something-else"})


def test_bundle_round_trip_and_version_tracks_content(tmp_path: Path):
    bundle = make_tiny_bundle(tmp_path / "b")
    again = Bundle.load(tmp_path / "b")
    assert again.version == bundle.version
    assert set(again.heads) == {"colours", "strict"} and again.default_head == "colours"
    head = again.head("colours")
    head.threshold = 0.77
    again.save_head(head)
    assert Bundle.load(tmp_path / "b").version != bundle.version


def test_bundle_errors_are_typed(tmp_path: Path):
    with pytest.raises(BundleError):
        Bundle.load(tmp_path)
    make_tiny_bundle(tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "bundle.json").read_text())
    manifest["format"] = "other/9"
    (tmp_path / "b" / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError):
        Bundle.load(tmp_path / "b")
    with pytest.raises(KeyError, match="available: colours, strict"):
        make_tiny_bundle(tmp_path / "c").head("nope")


def test_resolve_head_defaults_and_refuses_unknown_names(tiny_bundle_dir: Path):
    bundle = Bundle.load(tiny_bundle_dir)
    assert bundle.resolve_head() == "colours"
    assert bundle.resolve_head(None, default="strict") == "strict"
    assert bundle.resolve_head("strict", default="colours") == "strict"
    for name, default in (("nope", None), (None, "nope")):
        with pytest.raises(UnknownHeadError) as info:
            bundle.resolve_head(name, default=default)
        err = info.value
        assert isinstance(err, SmartAlbumError) and isinstance(err, KeyError)
        assert (err.code, err.status, err.available) == ("unknown_head", 400, ["colours", "strict"])
        assert err.detail == "No head 'nope'; available: colours, strict."
        assert err.to_dict()["available"] == ["colours", "strict"]


def test_rewriting_a_bundle_replaces_it_whole(tmp_path: Path):
    make_tiny_bundle(tmp_path / "b")
    (tmp_path / "b" / "stale.txt").write_text("old")
    make_tiny_bundle(tmp_path / "b")
    assert not (tmp_path / "b" / "stale.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".b")]


def test_engine_classifies_and_is_thread_safe(tiny_bundle_dir: Path):
    engine = Engine(Bundle.load(tiny_bundle_dir), threads=1, batch_size=3)
    images = [solid((240, 5, 5)), solid((5, 240, 5)), solid((5, 5, 240))] * 3
    expected = ["red", "green", "blue"] * 3
    assert [p.label for p in engine.classify(images)] == expected
    out = engine.run_batch(np.zeros((5, 3, 32, 32), np.float32), with_logits=True)
    assert out["embedding"].shape == (5, 48) and out["imagenet_logits"].shape == (5, 1000)
    assert engine.classify([]) == []

    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(20):
                assert [p.label for p in engine.classify(images)] == expected
        except BaseException as exc:  # noqa: BLE001 - collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_stored_embeddings_reclassify_without_backbone(tiny_bundle_dir: Path):
    engine = Engine(Bundle.load(tiny_bundle_dir), threads=1)
    emb = engine.embed([solid((5, 240, 5))])
    assert engine.classify_embeddings(emb)[0].label == "green"
    assert engine.classify_embeddings(emb, "strict")[0].uncertain


def test_concept_head_needs_and_uses_the_imagenet_classifier():
    from smartalbum.model.concepts import CONCEPTS, concept_matrix, concept_scores

    rng = np.random.default_rng(0)
    d = 16
    fc = (rng.normal(size=(d, 1000)).astype(np.float32), np.zeros(1000, np.float32))
    emb = rng.normal(size=(30, d)).astype(np.float32)
    scores = concept_scores(emb, fc, concept_matrix(CONCEPTS))
    assert scores.shape == (30, len(CONCEPTS)) and np.all(scores <= 0)
    y = (scores[:, 1] > np.median(scores[:, 1])).astype(int)  # learnable from concepts
    from smartalbum.model.heads import fit_logistic_head

    head = fit_logistic_head("c", ["lo", "hi"], emb, y, c=100.0, concepts=CONCEPTS,
                             concept_fc=fc, concept_scale=1.0)
    assert head.input_dim == d
    acc = np.mean([p.label == ["lo", "hi"][t] for p, t in zip(head.predict(emb), y, strict=True)])
    assert acc >= 0.9
    again = Head.from_dict(head.to_dict())
    with pytest.raises(ValueError, match="concepts"):
        again.predict(emb)  # no classifier attached: a clear error, not a wrong answer
    again.concept_fc = fc
    np.testing.assert_allclose(again.probabilities(emb), head.probabilities(emb), rtol=1e-5)


def test_fit_logistic_head_handles_two_and_missing_labels():
    from smartalbum.model.heads import fit_logistic_head

    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(1, 0.3, (20, 8)), rng.normal(-1, 0.3, (20, 8))])
    y = np.array([0] * 20 + [2] * 20)  # label 1 has no examples
    head = fit_logistic_head("h", ["a", "b", "c"], x.astype(np.float32), y)
    labels = [p.label for p in head.predict(x.astype(np.float32))]
    assert labels[:20] == ["a"] * 20 and labels[20:] == ["c"] * 20
    assert all(p.probabilities["b"] < 1e-3 for p in head.predict(x.astype(np.float32)))
