"""Train/eval transforms: one preprocessing truth, random but shape-preserving augmentation."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("albumentations")
pytestmark = pytest.mark.train  # albumentations: the train extra

from smartalbum.imaging.preprocess import PreprocessSpec, preprocess  # noqa: E402
from smartalbum.training.augment import (  # noqa: E402
    AugmentConfig,
    EvalTransform,
    TrainTransform,
    build_steps,
)

from .imagegen import make_image  # noqa: E402

SPECS = [
    PreprocessSpec(size=64),
    PreprocessSpec(size=96, crop_fraction=0.875, equalize="luma"),
    PreprocessSpec(size=80, resize="pad", detail_size=48, equalize="clahe",
                   mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)),
]


@pytest.fixture()
def photo() -> np.ndarray:
    return make_image("discs", np.random.default_rng(4), size=(150, 110))


@pytest.mark.parametrize("spec", SPECS)
def test_eval_transform_is_the_serving_preprocess(spec: PreprocessSpec, photo: np.ndarray):
    out = EvalTransform(spec)(photo)
    assert out.dtype == np.float32 and out.shape == (3, spec.size, spec.size)
    assert np.array_equal(out, preprocess(photo, spec))


@pytest.mark.parametrize("spec", SPECS)
def test_train_transform_is_random_and_shape_preserving(spec: PreprocessSpec, photo: np.ndarray):
    t = TrainTransform(spec, seed=1)
    views = [t(photo) for _ in range(4)]
    for v in views:
        assert v.dtype == np.float32 and v.shape == (3, spec.size, spec.size)
        assert np.isfinite(v).all()
    assert not all(np.array_equal(views[0], v) for v in views[1:])
    again = TrainTransform(spec, seed=1)
    assert all(np.array_equal(a, again(photo)) for a in views), "a seed fixes the sequence"


def test_strength_zero_or_everything_off_equals_eval(photo: np.ndarray):
    spec = PreprocessSpec(size=64)
    assert np.array_equal(TrainTransform(spec, strength=0)(photo), preprocess(photo, spec))
    off = AugmentConfig(crop_scale=None, hflip_p=0, rotate_p=0, brightness_contrast_p=0,
                        hsv_p=0, grayscale_p=0, blur_p=0, downscale_p=0, jpeg_p=0, noise_p=0)
    assert build_steps(off, 64) == []
    assert np.array_equal(TrainTransform(spec, off)(photo), preprocess(photo, spec))


def test_config_selects_steps_and_strength_scales_them():
    names = [type(s).__name__ for s in build_steps(AugmentConfig(), 64)]
    assert names == ["RandomResizedCrop", "HorizontalFlip", "Rotate", "RandomBrightnessContrast",
                     "HueSaturationValue", "ToGray", "GaussianBlur", "Downscale", "GaussNoise",
                     "ImageCompression"]
    only_flip = AugmentConfig(crop_scale=None, rotate_p=0, brightness_contrast_p=0, hsv_p=0,
                              grayscale_p=0, blur_p=0, downscale_p=0, jpeg_p=0, noise_p=0)
    assert [type(s).__name__ for s in build_steps(only_flip, 64)] == ["HorizontalFlip"]
    strong = AugmentConfig().scaled(2.0)
    assert strong.rotate_limit == 30 and strong.jpeg_p == pytest.approx(0.6)
    assert strong.crop_scale is not None and strong.crop_scale[0] < 0.35


def test_augment_only_changes_the_working_image(photo: np.ndarray):
    t = TrainTransform(PreprocessSpec(size=64, crop_fraction=0.5), seed=0)
    aug = t.augment(photo)
    assert aug.dtype == np.uint8 and aug.shape == (128, 128, 3)  # crop side = size / fraction
    d = t.describe()
    assert d["kind"] == "train" and d["spec"]["size"] == 64 and "config" in d
