"""The training commands through click's CliRunner, including bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from smartalbum.cli import main

from .conftest import TEST_SIZE
from .imagegen import make_class_folders


@pytest.fixture(scope="module")
def cli() -> click.Group:
    return main


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def test_module_import_pulls_in_no_torch():
    code = ("import sys, smartalbum.cli.training, smartalbum.training.evaluate, "
            "smartalbum.training.data, smartalbum.training.report; "
            "bad = [m for m in ('torch', 'albumentations', 'matplotlib') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dataset_prepare(cli, runner: CliRunner, tmp_path: Path):
    src = make_class_folders(tmp_path / "src", n=4, seed=21)
    res = runner.invoke(cli, ["dataset", "prepare", str(src), str(tmp_path / "ds"), "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "total" in res.output and "12 photos found" in res.output
    assert (tmp_path / "ds" / "dataset.csv").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dataset", "prepare", "{tmp}/missing", "{tmp}/out"], "no such folder"),
        (["dataset", "prepare", "{tmp}/empty", "{tmp}/out"], "no labelled photos"),
        (["dataset", "prepare", "{tmp}/empty", "{tmp}/out", "--val", "0.6", "--test", "0.5"],
         "leave photos for training"),
        (["train", "{tmp}/missing", "--out", "{tmp}/b"], "not a prepared dataset"),
        (["evaluate", "{tmp}/nobundle", "{tmp}/missing"], "no such dataset"),
        (["evaluate", "{tmp}/nobundle", "{tmp}/empty"], "no labelled photos"),
        (["export", "{tmp}/nobundle"], "not a model bundle"),
    ],
)
def test_bad_input_is_a_clear_usage_error(cli, runner: CliRunner, tmp_path: Path, args, message):
    (tmp_path / "empty").mkdir()
    res = runner.invoke(cli, [a.format(tmp=tmp_path) for a in args])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output


@pytest.mark.train
def test_train_argument_errors(cli, runner: CliRunner, tiny_dataset: Path, tmp_path: Path):
    pytest.importorskip("torch")
    out = str(tmp_path / "b")
    cases = [
        (["--arch", "resnet18"], "needs --weights"),
        (["--arch", "vgg"], "unknown --arch"),
        (["--head", "x=checks"], "at least two labels"),
        (["--head", "x=checks,cats"], "not in the dataset"),
        (["--weights", str(tmp_path / "nope.pt")], "weights file not found"),
    ]
    for extra, message in cases:
        res = runner.invoke(cli, ["train", str(tiny_dataset), "--out", out, *extra])
        assert res.exit_code == 2, (extra, res.output)
        assert message in res.output, (extra, res.output)
    assert not Path(out).exists()


def test_training_commands_without_torch(cli, runner: CliRunner, tiny_dataset: Path,
                                         tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    res = runner.invoke(cli, ["train", str(tiny_dataset), "--out", str(tmp_path / "b")])
    assert res.exit_code == 2
    assert "pip install torch==2.13.0 && pip install 'smart-album[train]'" in res.output
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "bundle.json").write_text("{}")
    res = runner.invoke(cli, ["export", str(tmp_path / "bundle")])
    assert res.exit_code == 2 and "install the train extra" in res.output


@pytest.mark.train
def test_train_evaluate_export_roundtrip(cli, runner: CliRunner, tiny_dataset: Path,
                                         tiny_bundle: Path, tmp_path: Path):
    pytest.importorskip("torch")
    out = tmp_path / "cli-bundle"
    res = runner.invoke(cli, ["train", str(tiny_dataset), "--out", str(out), "--size",
                              str(TEST_SIZE), "--views", "1", "--epochs", "8", "--no-quantize",
                              "--head", "pair=checks,discs", "--head", "all"])
    assert res.exit_code == 0, res.output
    assert "wrote bundle" in res.output and "head pair: checks, discs" in res.output
    from smartalbum.model.bundle import Bundle

    b = Bundle.load(out)
    assert b.backbone["precision"] == "fp32" and b.default_head == "pair"
    assert set(b.heads) == {"pair", "all"}

    res = runner.invoke(cli, ["evaluate", str(out), str(tiny_dataset), "--head", "all"])
    assert res.exit_code == 0, res.output
    assert "accuracy" in res.output and "confusion" in res.output
    res = runner.invoke(cli, ["evaluate", str(out), str(tiny_dataset), "--format", "json",
                              "--split", "val"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["head"] == "pair" and data["split"] == "val"
    assert set(data["metrics"]["labels"]) == {"checks", "discs"}
    assert data["skipped_other_labels"] > 0  # the stripes photos
    res = runner.invoke(cli, ["evaluate", str(out), str(tiny_dataset), "--head", "nope"])
    assert res.exit_code == 2 and "no head 'nope'" in res.output

    # a plain labelled folder works too (every photo is scored)
    folder = make_class_folders(tmp_path / "plain", n=2, seed=5)
    res = runner.invoke(cli, ["evaluate", str(out), str(folder), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["metrics"]["n"] == 4  # the pair head's two classes x 2

    # export --check on the int8-or-fp32 tiny bundle, then a refresh to fp32
    copy = shutil.copytree(tiny_bundle, tmp_path / "copy")
    res = runner.invoke(cli, ["export", str(copy), "--check"])
    assert res.exit_code == 0, res.output
    assert "check passed" in res.output and "top-1 agreement" in res.output
    res = runner.invoke(cli, ["export", str(copy), "--no-quantize"])
    assert res.exit_code == 0, res.output
    refreshed = Bundle.load(copy)
    assert refreshed.backbone["precision"] == "fp32"
    assert refreshed.backbone["parity"]["top1_agreement"] == 1.0
    assert (copy / "reports" / "confusion_texture.png").is_file()
    assert refreshed.heads["texture"].to_dict() == Bundle.load(tiny_bundle).heads[
        "texture"].to_dict()
    res = runner.invoke(cli, ["export", str(copy), "--arch", "resnet18"])
    assert res.exit_code == 2 and "fitted on efficientnet-lite0" in res.output
