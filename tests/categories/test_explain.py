"""Heat-maps: the shipped features model, the class activation map and its overlay."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from smartalbum.categories.errors import ExplainUnavailable
from smartalbum.categories.explain import Explainer, channel_weights, overlay_png
from smartalbum.model.bundle import Bundle


@pytest.fixture(scope="module")
def explainer() -> Explainer:
    return Explainer(Bundle.load())


def scene(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.integers(40, 220, (6, 8, 3), dtype=np.uint8), (320, 240))
    cv2.circle(image, (220, 90), 50, (250, 240, 30), -1)
    return image


def test_features_model_matches_the_backbone(explainer):
    from smartalbum.model.engine import Engine

    image = scene()
    fmap, emb = explainer.feature_map(image)
    assert fmap.shape == (1280, 7, 7)
    np.testing.assert_allclose(fmap.mean(axis=(1, 2)), emb, atol=0.05)  # GAP of the map
    same = Engine(explainer.bundle, threads=1).embed([image])[0]
    np.testing.assert_allclose(emb, same, atol=1e-5)


def test_heatmap_is_the_class_activation_map(explainer):
    head = explainer.bundle.head()
    image = scene(1)
    result = explainer.heatmap(image, head)
    cam = result["map"]
    assert cam.shape == (7, 7) and cam.min() >= 0 and cam.max() == pytest.approx(1.0)
    assert result["label"] in head.labels and 0 < result["probability"] <= 1
    # by hand: ReLU(sum_k w_k A_k), normalised
    fmap, _ = explainer.feature_map(image)
    index = head.labels.index(result["label"])
    manual = np.maximum(np.tensordot(channel_weights(head, index), fmap, axes=(0, 0)), 0)
    np.testing.assert_allclose(cam, manual / manual.max(), rtol=1e-4, atol=1e-5)
    png = overlay_png(image, cam)
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == image.shape


def test_missing_or_stale_features_model_is_a_typed_error(tmp_path, tiny_bundle_dir):
    with pytest.raises(ExplainUnavailable):
        Explainer(Bundle.load(tiny_bundle_dir))
    copy = tmp_path / "bundle"
    shutil.copytree(Bundle.load().path, copy)
    (copy / "features.onnx").write_bytes(b"not onnx")
    with pytest.raises(ExplainUnavailable):
        Explainer(Bundle.load(copy))


def test_features_model_is_made_from_the_backbone(tmp_path, tiny_bundle_dir):
    pytest.importorskip("onnx")
    from smartalbum.categories.explain import write_features_model

    copy = tmp_path / "bundle"
    shutil.copytree(Bundle.load().path, copy)
    (copy / "features.onnx").unlink()
    path = write_features_model(copy)
    assert path.stat().st_size < 1_000_000  # weights point into backbone.onnx
    assert Explainer(Bundle.load(copy)).feature_map(scene())[0].shape == (1280, 7, 7)
    with pytest.raises(ExplainUnavailable):  # the tiny backbone has no global pooling
        write_features_model(tiny_bundle_dir)


def test_cli_explain_writes_a_png(tmp_path, monkeypatch):
    from smartalbum.cli import main
    from smartalbum.config import get_settings

    monkeypatch.setenv("SMARTALBUM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SMARTALBUM_MODEL__BUNDLE", raising=False)
    get_settings.cache_clear()
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), scene(2)[:, :, ::-1])
    out = tmp_path / "heat.png"
    result = CliRunner().invoke(main, ["category", "explain", str(photo), "-o", str(out)])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_map_lies_where_the_network_looked_not_over_the_whole_photo():
    """A wide photo's map covers its centred square (the network's centre crop): drawn over
    the whole photo, a hot spot moved sideways (the overlay's old misplacement)."""
    from smartalbum.categories.explain import map_region
    from smartalbum.imaging.preprocess import PreprocessSpec

    crop = PreprocessSpec(resize="center_crop")
    assert map_region(crop, 400, 200) == (0.25, 0.0, 0.5, 1.0)
    assert map_region(crop, 200, 400) == (0.0, 0.25, 1.0, 0.5)
    assert map_region(PreprocessSpec(resize="squash"), 400, 200) == (0.0, 0.0, 1.0, 1.0)
    assert map_region(PreprocessSpec(resize="pad"), 400, 200) == (0.0, -0.5, 1.0, 2.0)

    image = np.full((200, 400, 3), 128, np.uint8)
    cam = np.zeros((7, 7), np.float32)
    cam[3, 6] = 1.0  # hot at the right edge of what the network saw
    png = overlay_png(image, cam, region=map_region(crop, 400, 200))
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    red = decoded[:, :, 2].astype(int) - decoded[:, :, 0].astype(int)
    hot_x = int(np.unravel_index(np.argmax(red), red.shape)[1])
    assert 270 < hot_x < 300  # inside the crop (100..300), near its right edge, not at 390
    assert (decoded[:, :90] == 128).all() and (decoded[:, 310:] == 128).all()  # untouched
