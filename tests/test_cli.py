"""The `smartalbum` command line on a folder of good and bad files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from smartalbum.cli import main


@pytest.fixture()
def photo_dir(tmp_path: Path) -> Path:
    """red.jpg, green.png, sub/blue.webp, broken.jpg (text), half.jpg (truncated)."""
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    for name, colour in [("red.jpg", (240, 10, 10)), ("green.png", (10, 240, 10)),
                         ("sub/blue.webp", (10, 10, 240))]:
        Image.new("RGB", (90, 60), colour).save(d / name)
    (d / "broken.jpg").write_text("not a photo")
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(buf, "JPEG")
    (d / "half.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return d


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_json_lines_one_per_photo_with_errors_and_exit_code(photo_dir: Path, tiny_bundle_dir: Path):
    res = run("classify", str(photo_dir), "--recursive", "--bundle", str(tiny_bundle_dir),
              "--format", "json")
    assert res.exit_code == 1, res.output  # some files failed, the others were classified
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    by_name = {Path(r["path"]).name: r for r in rows}
    assert set(by_name) == {"red.jpg", "green.png", "blue.webp", "broken.jpg", "half.jpg"}
    assert by_name["red.jpg"]["label"] == "red"
    assert by_name["green.png"]["label"] == "green"
    assert by_name["blue.webp"]["label"] == "blue"
    assert abs(sum(by_name["red.jpg"]["probabilities"].values()) - 1) < 1e-4
    assert by_name["broken.jpg"]["error"]["code"] == "not_an_image"
    assert by_name["half.jpg"]["error"]["code"] == "corrupt_image"
    assert by_name["broken.jpg"]["label"] is None


def test_all_good_exits_zero_and_table_has_summary(tmp_path: Path, tiny_bundle_dir: Path):
    Image.new("RGB", (64, 64), (250, 0, 0)).save(tmp_path / "a.jpg")
    Image.new("RGB", (64, 64), (250, 0, 0)).save(tmp_path / "b.jpg")
    res = run("classify", str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"),
              "--bundle", str(tiny_bundle_dir))
    assert res.exit_code == 0
    assert "2 photos" in res.output and "red: 2" in res.output


def test_non_recursive_skips_subfolders(photo_dir: Path, tiny_bundle_dir: Path):
    res = run("classify", str(photo_dir), "--bundle", str(tiny_bundle_dir), "--format", "json")
    names = {Path(json.loads(x)["path"]).name for x in res.stdout.splitlines() if x.startswith("{")}
    assert "blue.webp" not in names and "red.jpg" in names


def test_csv_has_header_and_probability_columns(photo_dir: Path, tiny_bundle_dir: Path):
    res = run("classify", str(photo_dir), "-r", "--bundle", str(tiny_bundle_dir), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert {"path", "label", "confidence", "uncertain", "red", "green", "blue", "error"} <= set(
        rows[0]
    )
    red = next(r for r in rows if r["path"].endswith("red.jpg"))
    assert red["label"] == "red" and float(red["red"]) > 0.5
    assert next(r for r in rows if r["path"].endswith("broken.jpg"))["error"] == "not_an_image"


def test_head_option_and_uncertain_flag(photo_dir: Path, tiny_bundle_dir: Path):
    res = run("classify", str(photo_dir / "red.jpg"), "--bundle", str(tiny_bundle_dir),
              "--head", "strict", "--format", "json")
    row = json.loads(res.stdout.splitlines()[0])
    assert row["label"] == "red" and row["uncertain"] is True  # strict head: threshold 0.99


@pytest.mark.parametrize(
    "args, message",
    [
        (["classify", "/no/such/dir"], "no such file"),
        (["classify", "{empty}"], "no photos found"),
        (["classify", "{photo}", "--head", "nope"], "no head 'nope'"),
        (["classify", "{photo}", "--bundle", "{empty}"], "cannot load model bundle"),
    ],
)
def test_bad_usage_exits_2_with_a_message(tmp_path: Path, tiny_bundle_dir: Path, args, message):
    (tmp_path / "empty").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "p.jpg")
    subst = {"{empty}": str(tmp_path / "empty"), "{photo}": str(tmp_path / "p.jpg")}
    argv = [subst.get(a, a) for a in args]
    if "--bundle" not in argv:
        argv += ["--bundle", str(tiny_bundle_dir)]
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output


def test_info_prints_heads_and_json(tiny_bundle_dir: Path):
    res = run("info", "--bundle", str(tiny_bundle_dir), "--format", "json")
    data = json.loads(res.output)
    assert data["default_head"] == "colours"
    assert data["heads"]["colours"]["labels"] == ["red", "green", "blue"]
    assert len(data["bundle"]["version"]) == 16
    text = run("info", "--bundle", str(tiny_bundle_dir)).output
    assert "head colours (default)" in text


def test_version():
    res = run("--version")
    assert res.exit_code == 0 and "smartalbum" in res.output
