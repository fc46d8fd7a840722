"""The shipped default bundle: it loads offline, and sorts real photos correctly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smartalbum.imaging import load_photo
from smartalbum.imaging.preprocess import preprocess_batch
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


def test_int8_backbone_gives_its_exact_result_on_this_cpu(engine: Engine):
    """The same photo, the same embedding on every CPU (a bug: AVX2-only CPUs disagreed).

    ONNX Runtime's uint8 x int8 kernel saturates on x86 CPUs with AVX2 but no VNNI; there the
    shipped backbone's embedding kept cos 0.79-0.91 of its exact int8 result (the graph run
    unfused: each DequantizeLinear, then a float convolution), and photos changed label.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 2
    exact = ort.InferenceSession(
        str(engine.bundle.backbone_path), sess_options=opts, providers=["CPUExecutionProvider"]
    )
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:256, 0:320]
    photos = []
    for _ in range(4):  # smooth scenes with edges: what saturates is the large, aligned sums
        base = rng.uniform(0, 255, 3) * (yy[..., None] / 256) + rng.uniform(0, 80, 3)
        stripes = ((xx // rng.integers(8, 40)) % 2)[..., None] * rng.uniform(0, 170, 3)
        photos.append(np.clip(base + stripes, 0, 255).astype(np.uint8))
    batch = preprocess_batch(photos, engine.bundle.preprocess)
    served = engine.run_batch(batch)["embedding"]
    [reference] = exact.run([engine.embedding_output], {engine.input_name: batch})
    served = served / np.linalg.norm(served, axis=1, keepdims=True)
    reference = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    assert (served * reference).sum(axis=1).min() > 0.99
