"""Blur and exposure measures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from smartalbum.imaging.quality import BLUR_THRESHOLD, Exposure, assess, blur_score, exposure


def test_sharp_pattern_scores_far_above_its_blurred_copy(imagekit):
    sharp = imagekit.scene(640, 480, seed=1)
    blurred = cv2.GaussianBlur(sharp, (0, 0), sigmaX=4)
    s, b = blur_score(sharp), blur_score(blurred)
    assert s > 10 * b
    assert s > BLUR_THRESHOLD > b


def test_more_blur_scores_lower(imagekit):
    sharp = imagekit.scene(400, 300, seed=2)
    scores = [blur_score(cv2.GaussianBlur(sharp, (0, 0), sigma)) for sigma in (0.5, 1.5, 3, 6)]
    assert scores == sorted(scores, reverse=True)


def test_score_does_not_depend_on_resolution(imagekit):
    """The same scene at 2048 and at 1024 px scores alike (it is measured at 512 px);
    a raw Laplacian variance would differ by roughly the square of the scale."""
    scene = imagekit.scene(2048, 1536, seed=3)
    half = cv2.resize(scene, (1024, 768), interpolation=cv2.INTER_AREA)
    a, b = blur_score(scene), blur_score(half)
    assert 0.7 < a / b < 1.4
    raw = lambda im: cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()  # noqa: E731
    assert abs(np.log(raw(scene) / raw(half))) > abs(np.log(a / b))


def test_flat_image_has_zero_blur_score():
    assert blur_score(np.full((100, 100, 3), 90, np.uint8)) == 0.0


def test_grey_input_accepted(imagekit):
    scene = imagekit.scene(300, 200)
    grey = cv2.cvtColor(scene, cv2.COLOR_RGB2GRAY)
    assert blur_score(grey) == pytest.approx(blur_score(scene))


@pytest.mark.parametrize(
    ("scale", "offset", "verdict"),
    [(0.25, 0.0, "under"), (1.0, 0.0, "ok"), (0.3, 200.0, "over")],
)
def test_exposure_verdicts(imagekit, scale, offset, verdict):
    scene = imagekit.scene(320, 240, seed=4).astype(np.float32)
    image = np.clip(scene * scale + offset, 0, 255).astype(np.uint8)
    result = exposure(image)
    assert isinstance(result, Exposure)
    assert result.verdict == verdict, result


def test_exposure_numbers():
    image = np.zeros((100, 100, 3), np.uint8)
    image[:60] = 0  # 60 % crushed black
    image[60:] = 255  # 40 % blown white
    result = exposure(image)
    assert result.dark_clipped == pytest.approx(0.6)
    assert result.bright_clipped == pytest.approx(0.4)
    assert result.mean == pytest.approx(0.4)
    assert result.verdict == "under"
    mid = exposure(np.full((10, 10, 3), 128, np.uint8))
    assert mid.verdict == "ok" and mid.dark_clipped == 0 and mid.bright_clipped == 0
    assert mid.mean == pytest.approx(128 / 255)


def test_mostly_blown_out_is_over():
    image = np.full((50, 50, 3), 255, np.uint8)
    image[:20] = 60
    result = exposure(image)
    assert result.mean < 0.8 and result.bright_clipped > 0.5
    assert result.verdict == "over"


def test_assess(imagekit):
    sharp = imagekit.scene(400, 300, seed=6)
    report = assess(sharp)
    assert not report.is_blurry and report.blur == pytest.approx(blur_score(sharp))
    assert report.exposure == exposure(sharp)
    blurry = assess(cv2.GaussianBlur(sharp, (0, 0), 5))
    assert blurry.is_blurry
    assert assess(sharp, blur_threshold=report.blur + 1).is_blurry
    d = report.to_dict()
    assert d["exposure"]["verdict"] == report.exposure.verdict and d["blur"] == report.blur


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10, 3), np.float32),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((0, 5, 3), np.uint8),
    ],
    ids=["float", "rgba", "empty"],
)
def test_invalid_input(bad):
    with pytest.raises(ValueError):
        blur_score(bad)
    with pytest.raises(ValueError):
        exposure(bad)
