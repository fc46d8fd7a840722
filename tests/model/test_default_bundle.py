"""The shipped default bundle: it loads offline, and sorts real photos correctly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smartalbum.imaging import load_photo
from smartalbum.model.bundle import DEFAULT_BUNDLE_DIR, Bundle
from smartalbum.model.engine import Engine
from smartalbum.model.pipeline import classify_files

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
ALBUM6 = ["landscape", "people", "architecture", "pets", "food", "documents"]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Bundle.load(), threads=2)


def test_default_bundle_is_complete(engine: Engine):
    bundle = engine.bundle
    assert bundle.path == DEFAULT_BUNDLE_DIR
    assert bundle.default_head == "album6"
    assert bundle.head("album6").labels == ALBUM6
    assert bundle.head("seed3").labels == ["landscape", "people", "architecture"]
    assert bundle.backbone["arch"] == "efficientnet-lite0"
    assert bundle.backbone["precision"] in {"int8", "fp32"}
    if bundle.backbone["precision"] == "int8":  # shipped only when it agrees with fp32
        assert min(bundle.backbone["int8_head_agreement"].values()) >= 0.99
    card = (bundle.path / "card.md").read_text()
    for source in ("Intel", "Food-101", "SROIE"):
        assert source in card
    for head in ("album6", "seed3"):
        assert bundle.metrics["heads"][head]["test"]["accuracy"] >= 0.97


def test_default_bundle_classifies_a_generated_photo(engine: Engine):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    [pred] = engine.classify([photo])
    assert pred.label in ALBUM6
    assert abs(sum(pred.probabilities.values()) - 1) < 1e-4


@pytest.mark.skipif(not (SHARED / "train_pool").is_dir(), reason="../shared/data is absent")
def test_default_bundle_sorts_real_photos(engine: Engine):
    paths, truth = [], []
    for label in ALBUM6:
        files = sorted((SHARED / "train_pool" / label).glob("*.jpg"))[::37][:8]
        paths += files
        truth += [label] * len(files)
    results = list(classify_files(paths, engine, workers=2))
    labels = [r.prediction.label for r in results]
    accuracy = np.mean([a == b for a, b in zip(labels, truth, strict=True)])
    assert accuracy >= 0.95, list(zip(truth, labels, strict=True))


@pytest.mark.skipif(not (SHARED / "edge_cases").is_dir(), reason="../shared/data is absent")
@pytest.mark.parametrize(
    "rel, label",
    [
        ("png/hopper.png", "people"),  # a head-and-shoulders portrait, unlike the training people
        ("gps/DSCN0025.jpg", "architecture"),
        ("gps/DSCN0040.jpg", "architecture"),
        ("gps/DSCN0012.jpg", "landscape"),
    ],
)
def test_default_bundle_on_photos_from_other_cameras(engine: Engine, rel: str, label: str):
    image = load_photo(SHARED / "edge_cases" / rel, max_side=448).image
    assert engine.classify([image])[0].label == label
