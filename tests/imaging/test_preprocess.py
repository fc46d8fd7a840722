"""The one preprocessing truth: geometry, equalisation, normalisation and the spec file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from smartalbum.imaging.preprocess import (
    PreprocessSpec,
    equalize,
    preprocess,
    preprocess_batch,
    resize_for_network,
)


def hue(image: np.ndarray) -> np.ndarray:
    """Hue in radians."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2HSV_FULL)[..., 0].astype(np.float64) * (np.pi / 128)


def frame(content: np.ndarray, height: int, width: int, seed: int) -> np.ndarray:
    """``content`` centred on a random-noise canvas of the given size (distractors around)."""
    canvas = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    top, left = (height - content.shape[0]) // 2, (width - content.shape[1]) // 2
    canvas[top : top + content.shape[0], left : left + content.shape[1]] = content
    return canvas


def test_output_shape_dtype_and_layout(imagekit):
    image = imagekit.scene(300, 200)
    spec = PreprocessSpec(size=64)
    x = preprocess(image, spec)
    assert x.shape == (3, 64, 64) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    # CHW: channel 0 is red. A pure red picture has a high channel 0 and low channels 1, 2.
    red = np.zeros((50, 50, 3), np.uint8)
    red[..., 0] = 255
    r = preprocess(red, spec)
    assert r[0].min() > 0.9 and r[1].max() < -0.9 and r[2].max() < -0.9


def test_normalisation_uses_mean_and_std():
    flat = np.full((40, 40, 3), (127, 255, 0), dtype=np.uint8)
    x = preprocess(flat, PreprocessSpec(size=16))
    np.testing.assert_allclose(x[:, 0, 0], [0.0, 128 / 128, -127 / 128], atol=1e-6)
    custom = PreprocessSpec(size=16, mean=(0, 0, 0), std=(255, 255, 255))
    np.testing.assert_allclose(preprocess(flat, custom)[:, 3, 3], [127 / 255, 1.0, 0.0], atol=1e-6)


def test_batch(imagekit):
    spec = PreprocessSpec(size=32)
    images = [imagekit.scene(64, 48, seed=i) for i in range(3)]
    batch = preprocess_batch(images, spec)
    assert batch.shape == (3, 3, 32, 32) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[1], preprocess(images[1], spec))
    assert preprocess_batch([], spec).shape == (0, 3, 32, 32)


def test_center_crop_hides_aspect_ratio(imagekit):
    """The same subject in a tall and in a wide photo (at different resolutions) gives the
    same network input with centre crop; squashing keeps the shapes apart."""
    content = imagekit.scene(256, 256, seed=4)
    tall = frame(cv2.resize(content, (300, 300), interpolation=cv2.INTER_AREA), 520, 300, 1)
    wide = frame(content, 256, 460, 2)
    crop = PreprocessSpec(size=96)
    a, b = preprocess(tall, crop), preprocess(wide, crop)
    assert float(np.abs(a - b).mean()) < 0.03  # interpolation differences only
    squash = PreprocessSpec(size=96, resize="squash")
    assert float(np.abs(preprocess(tall, squash) - preprocess(wide, squash)).mean()) > 0.2


def test_center_crop_takes_the_middle():
    image = np.zeros((100, 300, 3), np.uint8)
    image[:, 100:200] = (0, 255, 0)  # the centre square is green, the sides black
    out = resize_for_network(image, PreprocessSpec(size=50))
    assert out.shape == (50, 50, 3)
    assert np.all(out[..., 1] == 255) and np.all(out[..., 0] == 0)


def test_crop_fraction_zooms_in():
    image = np.zeros((100, 100, 3), np.uint8)
    image[25:75, 25:75] = 255
    out = resize_for_network(image, PreprocessSpec(size=20, crop_fraction=0.5))
    assert np.all(out == 255)
    full = resize_for_network(image, PreprocessSpec(size=20))
    assert full.min() == 0


def test_pad_keeps_the_whole_frame_with_grey_bands():
    wide = np.full((50, 100, 3), 255, np.uint8)
    out = resize_for_network(wide, PreprocessSpec(size=40, resize="pad"))
    assert out.shape == (40, 40, 3)
    assert np.all(out[:8] == 127) and np.all(out[-8:] == 127)  # bands above and below
    assert np.all(out[12:28] == 255)  # the picture itself, all of its width
    tall = np.full((100, 50, 3), 255, np.uint8)
    out = resize_for_network(tall, PreprocessSpec(size=40, resize="pad"))
    assert np.all(out[:, :8] == 127) and np.all(out[:, 12:28] == 255)


def test_squash_keeps_the_whole_frame_distorted():
    image = np.zeros((50, 200, 3), np.uint8)
    image[:, :100] = (255, 0, 0)
    image[:, 100:] = (0, 0, 255)
    out = resize_for_network(image, PreprocessSpec(size=20, resize="squash"))
    assert out.shape == (20, 20, 3)
    assert np.all(out[:, :9, 0] == 255) and np.all(out[:, 11:, 2] == 255)


def test_detail_size_removes_fine_detail():
    checker = (np.indices((256, 256)).sum(axis=0) % 2 * 255).astype(np.uint8)
    image = np.dstack([checker] * 3)
    sharp = resize_for_network(image, PreprocessSpec(size=256))
    soft = resize_for_network(image, PreprocessSpec(size=256, detail_size=32))
    assert soft.shape == sharp.shape
    assert soft.std() < sharp.std() / 10


@pytest.mark.parametrize("mode", ["luma", "clahe"])
def test_equalize_changes_luminance_only(mode):
    """A dim orange picture stays orange; per-channel equalisation (the seed's mistake)
    would stretch red, green and blue separately and turn it grey-blue."""
    rng = np.random.default_rng(0)
    hues = rng.integers(10, 30, (24, 32), dtype=np.uint8)  # OpenCV hue 0..180: orange
    sat = rng.integers(120, 220, hues.shape, dtype=np.uint8)
    val = rng.integers(90, 150, hues.shape, dtype=np.uint8)
    image = cv2.resize(
        cv2.cvtColor(np.dstack([hues, sat, val]), cv2.COLOR_HSV2RGB),
        (128, 96),
        interpolation=cv2.INTER_NEAREST,
    )
    out = equalize(image, mode)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out, image)
    h0 = hue(image)

    def median_hue_shift(other: np.ndarray) -> float:
        shift = np.abs(np.angle(np.exp(1j * (hue(other) - h0))))
        return float(np.degrees(np.median(shift)))

    assert median_hue_shift(out) < 5
    naive = np.dstack([cv2.equalizeHist(image[..., c]) for c in range(3)])
    assert median_hue_shift(naive) > 30


def test_luma_spreads_a_low_contrast_histogram(imagekit):
    scene = imagekit.scene(160, 120, seed=7).astype(np.float32)
    flat = (110 + (scene - scene.mean()) * 0.12).clip(0, 255).astype(np.uint8)
    before = cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY)
    after = cv2.cvtColor(equalize(flat, "luma"), cv2.COLOR_RGB2GRAY)
    assert np.ptp(before) < 60
    assert np.ptp(after) > 200
    assert after.std() > 3 * before.std()


def test_equalize_none_is_identity(imagekit):
    image = imagekit.scene(40, 30)
    assert equalize(image, "none") is image


def test_spec_json_round_trip(tmp_path):
    spec = PreprocessSpec(
        size=160,
        resize="pad",
        crop_fraction=0.875,
        detail_size=96,
        equalize="clahe",
        mean=(1.0, 2.0, 3.0),
        std=(4.0, 5.0, 6.0),
    )
    path = tmp_path / "preprocess.json"
    spec.to_json(path)
    again = PreprocessSpec.from_json(path)
    assert again == spec
    assert again.mean == (1.0, 2.0, 3.0)


def test_spec_is_frozen_and_strict(tmp_path):
    spec = PreprocessSpec()
    with pytest.raises(ValidationError):
        spec.size = 300  # type: ignore[misc]
    with pytest.raises(ValidationError):
        PreprocessSpec(size=8)
    with pytest.raises(ValidationError):
        PreprocessSpec(resize="stretch")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        PreprocessSpec(colour="yes")  # type: ignore[call-arg]
    path = tmp_path / "bad.json"
    path.write_text('{"size": 224, "unknown": 1}')
    with pytest.raises(ValidationError):
        PreprocessSpec.from_json(path)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((32, 32), np.uint8),
        np.zeros((32, 32, 4), np.uint8),
        np.zeros((32, 32, 3), np.float32),
        np.zeros((32, 32, 1), np.uint8),
    ],
    ids=["grey-2d", "rgba", "float", "one-channel"],
)
def test_invalid_input_raises_value_error(bad):
    with pytest.raises(ValueError):
        preprocess(bad, PreprocessSpec(size=16))


def test_unknown_equalize_mode_raises():
    with pytest.raises(ValueError):
        equalize(np.zeros((8, 8, 3), np.uint8), "histogram")  # type: ignore[arg-type]
