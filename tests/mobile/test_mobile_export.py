"""``smartalbum export --mobile``: the bundle's files, the ORT model, and the reference
program's parity with the server on generated photos and (when present) real ones."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from smartalbum.cli import main
from smartalbum.imaging.preprocess import PreprocessSpec, preprocess
from smartalbum.mobile import MobileExportError, export_mobile
from smartalbum.model.engine import Engine
from smartalbum.model.pipeline import classify_files

# Probabilities of the reference program and the server agree to this (measured: < 1e-3;
# a grey level of resampling difference moves an int8 backbone's output a little).
PROB_TOL = 0.02
ALLOWED_IMPORTS = {
    "__future__",
    "argparse",
    "io",
    "json",
    "math",
    "sys",
    "pathlib",
    "numpy",
    "onnxruntime",
    "PIL",
    "pillow_heif",
}


@pytest.fixture(scope="module")
def mobile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mobile") / "bundle"
    export_mobile(out)
    return out


@pytest.fixture(scope="module")
def reference(mobile_dir: Path):
    """The bundle's own copy of reference.py, imported as a plain module."""
    spec = importlib.util.spec_from_file_location(
        "sa_mobile_reference", mobile_dir / "reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load(threads=1)


def test_bundle_files_and_manifest(mobile_dir: Path) -> None:
    manifest = json.loads((mobile_dir / "mobile.json").read_text())
    assert manifest["format"] == "smartalbum-mobile/1"
    # The ImageNet classifier ships exactly when a head uses ImageNet concept scores.
    doc = json.loads((mobile_dir / "heads.json").read_text())
    concepts = any(h.get("concepts") for h in doc["heads"].values())
    assert (doc["concept_fc"] is not None) == concepts
    assert (mobile_dir / "imagenet_fc.bin").is_file() == concepts
    for name in (
        "backbone.ort",
        "heads.json",
        "preprocess.json",
        "labels.json",
        "card.md",
        "reference.py",
        *(("imagenet_fc.bin",) if concepts else ()),
    ):
        assert (mobile_dir / name).is_file(), name
        info = manifest["files"][name]
        data = (mobile_dir / name).read_bytes()
        assert info["bytes"] == len(data)
        assert info["sha256"] == hashlib.sha256(data).hexdigest()
    # ORT format files carry the flatbuffer identifier "ORTM" at bytes 4..8.
    assert (mobile_dir / "backbone.ort").read_bytes()[4:8] == b"ORTM"
    assert manifest["backbone"]["precision"] == "int8"
    assert max(manifest["backbone"]["parity_vs_onnx"].values()) <= 1e-3
    heads = json.loads((mobile_dir / "heads.json").read_text())
    labels = json.loads((mobile_dir / "labels.json").read_text())
    assert set(heads["heads"]) == set(labels) == {"album6", "seed3"}
    assert heads["default_head"] == "album6"
    assert labels["seed3"] == ["landscape", "people", "architecture"]
    assert "## Mobile bundle" in (mobile_dir / "card.md").read_text()


def test_reference_program_is_self_contained(mobile_dir: Path) -> None:
    tree = ast.parse((mobile_dir / "reference.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS


@pytest.mark.parametrize("shape", [(448, 336), (150, 150), (300, 449), (825, 550), (97, 131)])
def test_reference_preprocessing_matches_server(reference, imagekit, shape) -> None:
    """Crop, area/bilinear resize and luma equalisation re-implemented in numpy agree with
    OpenCV to within one grey level on a few pixels."""
    spec = PreprocessSpec(equalize="luma")
    image = imagekit.scene(shape[1], shape[0], seed=sum(shape))
    ours = preprocess(image, spec)
    theirs = reference.prepare(image, spec.model_dump())
    diff = np.abs(ours - theirs)
    assert diff.max() <= 1.0 / 128 + 1e-6
    assert (diff > 0).mean() < 0.01


def _server(engine: Engine, paths: list[Path], head: str) -> dict[str, dict]:
    return {
        str(r.path): r.prediction.to_dict()
        for r in classify_files(paths, engine, head=head, workers=1, hash_files=False)
        if r.prediction is not None
    }


def _assert_parity(reference, mobile_dir: Path, engine: Engine, paths: list[Path]) -> float:
    model = reference.MobileModel(mobile_dir)
    worst = 0.0
    for head in ("album6", "seed3"):
        server = _server(engine, paths, head)
        assert len(server) == len(paths)
        for ref in model.classify(paths, head):
            want = server[ref["path"]]
            diffs = [abs(ref["probabilities"][k] - v) for k, v in want["probabilities"].items()]
            worst = max(worst, *diffs)
            assert max(diffs) < PROB_TOL, (ref["path"], head, ref, want)
            assert ref["label"] == want["label"], (ref["path"], head)
            assert (
                ref["uncertain"] == want["uncertain"]
                or abs(want["confidence"] - engine.head(head).threshold) < PROB_TOL
            )
    return worst


@pytest.mark.slow
def test_reference_matches_server_on_generated_photos(reference, mobile_dir, engine, imagekit):
    icc = imagekit.rgb_icc_profile(gamma=1.8, name="test wide")
    rgba = np.dstack([imagekit.scene(300, 200, seed=5), np.full((200, 300), 160, np.uint8)])
    paths = [
        imagekit.write("big.jpg", imagekit.scene(2000, 1500, seed=1), quality=90),
        imagekit.write("turned.jpg", imagekit.scene(1200, 800, seed=2), orientation=6),
        imagekit.write("mirror.jpg", imagekit.scene(640, 480, seed=3), orientation=2),
        imagekit.write("small.png", imagekit.scene(150, 150, seed=4)),
        imagekit.write("alpha.png", rgba),
        imagekit.write("icc.jpg", imagekit.scene(900, 600, seed=6), icc_profile=icc),
        imagekit.write("tall.webp", imagekit.scene(400, 900, seed=7)),
        imagekit.write("grey.jpg", imagekit.scene(500, 500, seed=8)[:, :, 0]),
    ]
    assert _assert_parity(reference, mobile_dir, engine, paths) < PROB_TOL


@pytest.mark.slow
def test_reference_matches_server_on_shared_photos(reference, mobile_dir, engine, shared_data):
    pool = shared_data / "train_pool"
    paths = [p for d in sorted(pool.iterdir()) if d.is_dir() for p in sorted(d.glob("*.jpg"))[:3]]
    edge = shared_data / "edge_cases"
    subs = ("cmyk", "grayscale", "png", "progressive", "webp", "tiff", "gps", "heic")
    for sub, n in [("orientation", 9), *((s, 2) for s in subs)]:
        if (edge / sub).is_dir():
            paths += [p for p in sorted((edge / sub).iterdir()) if p.is_file()][:n]
    if not paths:
        pytest.skip("no photos in the shared data")
    assert _assert_parity(reference, mobile_dir, engine, paths) < PROB_TOL


def test_reference_program_command_line(mobile_dir: Path, imagekit) -> None:
    photo = imagekit.write("p.jpg", imagekit.scene(600, 400, seed=9))
    run = subprocess.run(
        [
            sys.executable,
            str(mobile_dir / "reference.py"),
            str(mobile_dir),
            str(photo),
            "--head",
            "seed3",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(run.stdout.splitlines()[0])
    assert result["label"] in ("landscape", "people", "architecture")
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-4


@pytest.mark.slow
def test_cli_export_mobile_without_torch_or_onnx(tmp_path: Path) -> None:
    """The command must work in a serving-only install: torch and onnx are unimportable."""
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None\n"
        "from smartalbum.cli import main\n"
        f"main(['export', '--mobile', {str(tmp_path / 'm')!r}])\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "wrote mobile bundle" in run.stdout
    assert (tmp_path / "m" / "backbone.ort").is_file()


def test_cli_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    result = runner.invoke(main, ["export", "--mobile", str(taken)])
    assert result.exit_code == 2
    assert "not a mobile bundle" in result.output
    assert (taken / "notes.txt").read_text() == "mine"
    result = runner.invoke(
        main, ["export", "--mobile", str(tmp_path / "x"), "--bundle", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "cannot load model bundle" in result.output
    assert runner.invoke(main, ["export"]).exit_code == 2


def test_export_replaces_previous_mobile_bundle(tmp_path: Path) -> None:
    out = tmp_path / "m"
    first = export_mobile(out)
    (out / "stale.txt").write_text("old")
    second = export_mobile(out)
    assert not (out / "stale.txt").exists()
    assert second.files["heads.json"] == first.files["heads.json"]
    with pytest.raises(MobileExportError):
        export_mobile(Path(__file__).resolve().parents[2] / "src/smartalbum/model/default")
