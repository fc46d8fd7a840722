"""The default model's recipe on tiny generated data: views, caching, fitting, calibration,
and the metrics it writes (no absolute path of the building machine).

Runs the shipped int8 backbone on a few dozen 64-130 px pictures: a few seconds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from smartalbum.model import train_embeddings
from smartalbum.model.bundle import DEFAULT_BUNDLE_DIR, Bundle
from smartalbum.model.engine import Engine
from smartalbum.model.fitting import (
    calibrate,
    fit_soft_head,
    none_threshold,
    sample_weights,
    soft_targets,
)
from smartalbum.training import default_model
from smartalbum.training.augment import overlay_text
from smartalbum.training.view_embeddings import LabelledPhoto, ViewSet, embed_photos

from .imagegen import CLASSES, make_image, save_jpeg


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Bundle.load(), threads=2)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[LabelledPhoto]:
    """3 generated classes x 4 photos from two 'sources', and 3 'none' photos (noise)."""
    root = tmp_path_factory.mktemp("recipe")
    rng = np.random.default_rng(5)
    out = []
    for kind in CLASSES:
        for i in range(4):
            path = save_jpeg(root / kind / f"{i}.jpg", make_image(kind, rng))
            out.append(LabelledPhoto(path, kind, f"src{i % 2}", f"{kind}/{i}.jpg"))
    for i in range(3):
        noise = rng.integers(0, 255, (90, 110, 3), dtype=np.uint8)
        path = save_jpeg(root / "none" / f"{i}.jpg", noise)
        out.append(LabelledPhoto(path, "none", "src0", f"none/{i}.jpg"))
    return out


def test_views_are_embedded_once_and_cached(engine: Engine, photos, tmp_path: Path):
    views = embed_photos(engine, photos, views=1, text_views=1, cache=tmp_path, seed=0)
    assert views.emb.shape == (3 * len(photos), 1280)
    assert (views.view == 0).sum() == len(photos)
    assert list(views.name[:3]) == [photos[0].name] * 3
    [cached] = list(tmp_path.glob("views-*.npz"))
    mtime = cached.stat().st_mtime_ns
    again = embed_photos(engine, photos, views=1, text_views=1, cache=tmp_path, seed=0)
    assert cached.stat().st_mtime_ns == mtime  # read back, not recomputed
    assert np.array_equal(again.emb, views.emb)
    # the plain view is exactly what serving computes
    plain = views.select(views.view == 0)
    served = engine.embed([default_model_image(p) for p in photos[:2]])
    assert np.allclose(plain.emb[:2].astype(np.float32), served, atol=2e-2)


def test_a_rewritten_backbone_file_is_not_served_old_views(photos, tmp_path: Path):
    """The cache is keyed by the backbone file, not only by its name in bundle.json: the
    shipped backbone was rewritten in place (weights as uint8) and kept its name."""
    import shutil

    bundle_dir = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE_DIR, bundle_dir)
    cache = tmp_path / "cache"
    embed_photos(Engine(Bundle.load(bundle_dir), threads=1), photos[:2], cache=cache)
    with (bundle_dir / "backbone.onnx").open("ab") as fh:
        fh.write(b"\x32\x01x")  # protobuf: ModelProto.doc_string = "x"; other bytes, same name
    embed_photos(Engine(Bundle.load(bundle_dir), threads=1), photos[:2], cache=cache)
    assert len(list(cache.glob("views-*.npz"))) == 2


def default_model_image(p: LabelledPhoto) -> np.ndarray:
    from smartalbum.imaging.decode import load_photo
    from smartalbum.training.view_embeddings import DECODE_SIDE

    return load_photo(p.path, max_side=DECODE_SIDE).image


def test_weights_balance_classes_and_damp_big_sources():
    labels = ["a"] * 90 + ["a"] * 10 + ["b"] * 10 + ["none"] * 5
    sources = ["big"] * 90 + ["small"] * 10 + ["x"] * 10 + ["y"] * 5
    w = sample_weights(labels, sources, source_power=0.5, none_weight=2.0)
    assert w.mean() == pytest.approx(1.0)
    a, b, none = w[:100].sum(), w[100:110].sum(), w[110:].sum()
    assert a == pytest.approx(b) and none == pytest.approx(2 * b)
    # sqrt: the 90-photo source weighs 3x the 10-photo one, not 9x
    assert w[:90].sum() / w[90:100].sum() == pytest.approx(3.0)
    t = soft_targets(["a", "none"], ["a", "b"])
    assert t.tolist() == [[1.0, 0.0], [0.5, 0.5]]
    assert none_threshold(np.array([0.9, 0.5, 0.6, 0.7]), 0.75) == pytest.approx(0.7 + 1e-6)


def test_fit_and_calibrate_on_generated_views(engine: Engine, photos, tmp_path: Path):
    views = embed_photos(engine, photos, views=2, cache=tmp_path, seed=1)
    labels = list(CLASSES)
    head = fit_soft_head(
        "tiny", labels, views.emb.astype(np.float32), views.label, views.source, l2=1e-3
    )
    calibrate(head, views.emb.astype(np.float32), views.label, target=0.9, none_target=0.5)
    assert 0.3 <= head.threshold <= 0.95 and head.temperature > 0
    inside = np.isin(views.label, labels)
    probs = head.probabilities(views.emb[inside].astype(np.float32))
    y = np.array([labels.index(v) for v in views.label[inside]])
    assert (probs.argmax(axis=1) == y).mean() >= 0.9
    # the none photos were pulled towards a flat answer: less sure than the class photos
    none_conf = head.probabilities(views.emb[~inside].astype(np.float32)).max(axis=1)
    assert none_conf.mean() < probs.max(axis=1).mean()


def test_written_metrics_and_card_hold_no_absolute_path(
    engine: Engine, photos, tmp_path: Path, monkeypatch
):
    """write_bundle on a copy of the default bundle with tiny generated data."""
    import shutil

    out = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE_DIR, out)
    views = embed_photos(engine, photos, views=1, seed=2)
    val = views.select(views.view == 0)
    monkeypatch.setattr(default_model, "HEADS", {"album6": list(CLASSES)})
    monkeypatch.setattr(default_model, "ALBUM6", list(CLASSES))
    bundle = Bundle.load(out)
    heads = default_model.fit_heads(bundle, views, val)
    metrics = default_model.write_bundle(out, heads, views, val, val, 1.0, data=tmp_path)
    assert set(metrics["heads"]["album6"]["wild_val"]["per_source"]) == {"src0", "src1"}
    for name in ("metrics.json", "card.md", "heads/album6.json"):
        text = (out / name).read_text()
        assert str(tmp_path) not in text and str(Path.home()) not in text
    assert_no_absolute_path(json.loads((out / "metrics.json").read_text()))
    # What a retrain from corrections needs to refit and recalibrate like the build: every
    # plain training view (none ones too) with its source, and the validation photos.
    shipped = train_embeddings.load(Bundle.load(out))
    plain = views.select(views.view == 0)
    assert sorted(shipped.labels) == sorted(plain.label) and "none" in shipped.labels
    assert sorted(shipped.sources) == sorted(plain.source)
    assert sorted(shipped.val_labels) == sorted(val.label)
    assert shipped.val_x.shape == (len(val.label), plain.emb.shape[1])


def assert_no_absolute_path(obj, where: str = "metrics") -> None:
    """No string anywhere in ``obj`` is an absolute path."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert_no_absolute_path(k, where)
            assert_no_absolute_path(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_no_absolute_path(v, f"{where}[{i}]")
    elif isinstance(obj, str):
        assert not (os.path.isabs(obj) or obj[1:3] == ":\\"), f"{where}: {obj}"


def test_shipped_metrics_hold_no_absolute_path():
    metrics = json.loads((DEFAULT_BUNDLE_DIR / "metrics.json").read_text())
    assert_no_absolute_path(metrics)
    wild = metrics["heads"]["album6"]["wild_val"]
    assert {"per_source", "none", "review_share", "sure_accuracy", "ece"} <= set(wild)


def test_overlay_text_changes_pixels_not_shape():
    rng = np.random.default_rng(0)
    img = np.full((120, 160, 3), 90, np.uint8)
    out = overlay_text(img, rng)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert (out != img).any() and (img == 90).all()


def test_viewset_concat_and_select_keep_rows_aligned():
    a = ViewSet(
        np.zeros((2, 3), np.float16),
        np.array(["x", "y"]),
        np.array(["s", "t"]),
        np.array(["1", "2"]),
        np.array([0, 1], np.int16),
    )
    both = ViewSet.concat([a, a])
    assert len(both) == 4
    sub = both.select(both.view == 1)
    assert sub.label.tolist() == ["y", "y"] and sub.name.tolist() == ["2", "2"]


def test_pasted_people_scenes_on_generated_cutouts(tmp_path: Path):
    """composite.py: cut-outs from masks, every scene kind, labels (tiny keeps the scene's)."""
    import cv2

    from smartalbum.training.composite import KINDS, compose, load_cutouts, scenes

    rng = np.random.default_rng(0)
    masks, people = tmp_path / "masks", tmp_path / "people"
    masks.mkdir()
    for i in range(3):
        person = np.full((160, 90, 3), (200, 40 * i, 40), np.uint8)
        save_jpeg(people / f"p{i}.jpg", person)
        mask = np.zeros((160, 90), np.uint8)
        cv2.ellipse(mask, (45, 80), (30, 70), 0, 0, 360, 255, -1)
        cv2.imwrite(str(masks / f"p{i}.png"), mask)
    cutouts = load_cutouts(masks, people)
    assert len(cutouts) == 3 and cutouts[0].alpha.max() == 1.0
    background = make_image("stripes", rng, size=(120, 160))
    for kind in set(KINDS):
        out = compose(background, cutouts[:2], kind, rng)
        assert out.dtype == np.uint8 and min(out.shape[:2]) == 480  # pasted at 480 px
    bg_path = save_jpeg(tmp_path / "bg.jpg", background)
    made = list(scenes(cutouts, [(bg_path, "landscape", "src")], len(KINDS)))
    labels = [label for _, label, _, _ in made]
    assert labels == ["landscape" if k == "tiny" else "people" for k in KINDS]
    assert all(source == "paste/src" for _, _, source, _ in made)
