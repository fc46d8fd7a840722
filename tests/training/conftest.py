"""Fixtures for the training tests: a generated labelled folder, its prepared dataset and
one tiny bundle trained from it (shared by the tests that need a trained model, so the
backbone runs as few times as possible on a 2-core machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .imagegen import make_class_folders

#: Small network input for tests: EfficientNet-Lite0 still separates textures at 64 px.
TEST_SIZE = 64


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 visually distinct classes x 12 generated photos, one folder per class."""
    return make_class_folders(tmp_path_factory.mktemp("tiny") / "photos", n=12)


@pytest.fixture(scope="session")
def tiny_dataset(tiny_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from smartalbum.training.data import prepare_dataset

    out = tmp_path_factory.mktemp("tiny-ds") / "dataset"
    prepare_dataset(tiny_source, out, val=0.25, test=0.25, progress=False, echo=False)
    return out


@pytest.fixture(scope="session")
def tiny_bundle(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained by train_bundle on the tiny dataset (int8 when it agrees)."""
    pytest.importorskip("torch")
    from smartalbum.imaging.preprocess import PreprocessSpec
    from smartalbum.training.fit import train_bundle

    out = tmp_path_factory.mktemp("tiny-bundle") / "bundle"
    train_bundle(
        tiny_dataset, out, spec=PreprocessSpec(size=TEST_SIZE), views=1, epochs=12,
        calibration_size=12, progress=False, heads={"texture": None, "two": ["checks", "discs"]},
    )
    return out
