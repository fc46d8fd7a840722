"""The `smartalbum` command line on a folder of good and bad files."""

from __future__ import annotations

import ast
import csv
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from smartalbum.cli import main
from smartalbum.cli.app import COMMANDS
from smartalbum.cli.greedy import GreedyCommand, GreedyOption, expand_greedy
from smartalbum.errors import SmartAlbumError
from smartalbum.faces.errors import FacesDisabledError, PersonNotFoundError


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


# --------------------------------------------------------------------------- the package


SRC = Path(__file__).resolve().parents[1] / "src" / "smartalbum"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip


def test_help_imports_no_heavy_library():
    """`smartalbum --help` lists every command without importing torch, Celery or dlib."""
    if importlib.util.find_spec("smartalbum.cli.organize") is None:
        pytest.skip("smartalbum.cli.organize comes with the organize branch")
    out = _python(
        "import sys\nfrom smartalbum.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'celery', 'dlib', 'albumentations', 'flask', 'onnxruntime')\n"
        "print('LOADED', [m for m in heavy if m in sys.modules])"
    ).stdout
    assert "serve" in out and "category" in out and "worker" in out
    assert "LOADED []" in out


def test_a_command_module_is_imported_only_when_its_command_runs(tiny_bundle_dir: Path):
    out = _python(
        "import sys\nfrom smartalbum.cli import main\n"
        f"try:\n    main(['info', '--bundle', {str(tiny_bundle_dir)!r}])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith('smartalbum.cli.')))"
    ).stdout
    loaded = out.split("LOADED", 1)[1]
    assert "smartalbum.cli.classify" in loaded
    for other in ("training", "categories", "faces", "jobs", "sync", "serve", "tags"):
        assert f"smartalbum.cli.{other}'" not in loaded


def test_every_lazy_command_resolves():
    ctx = click.Context(main)
    for name, target in COMMANDS.items():
        if name == "organize" and importlib.util.find_spec("smartalbum.cli.organize") is None:
            continue  # comes with the organize branch
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name, target


@pytest.fixture()
def failing_command():
    """A ``boom`` command (and ``grp sub``) raising the error the test puts in ``raised``."""
    raised: list[Exception] = []

    @click.command("boom")
    def boom() -> None:
        raise raised[0]

    @click.group("grp")
    def grp() -> None:
        pass

    @grp.command("sub")
    def sub() -> None:
        raise raised[0]

    main.add_command(boom)
    main.add_command(grp)
    yield raised
    main.commands.pop("boom")
    main.commands.pop("grp")


@pytest.mark.parametrize("argv", [["boom"], ["grp", "sub"]])
@pytest.mark.parametrize(
    "error, code",
    [
        (SmartAlbumError("the disk is on fire", exit_code=4), 4),
        (SmartAlbumError("the disk is on fire", exit_code=2), 2),
        (PersonNotFoundError("the disk is on fire"), 2),
        (FacesDisabledError("the disk is on fire"), 1),
    ],
)
def test_a_typed_error_is_one_line_and_its_exit_code(failing_command, argv, error, code):
    failing_command.append(error)
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == code
    assert "Error: the disk is on fire" in res.output
    assert "Traceback" not in res.output and not isinstance(res.exception, SmartAlbumError)


def _declared_flags(path: Path) -> set[str]:
    """The flags of every ``click.option(...)``/``SharedOption(...)`` call in a module."""
    flags: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("option", "SharedOption"):
            flags |= {a.value for a in node.args
                      if isinstance(a, ast.Constant) and str(a.value).startswith("--")}
    return flags


def test_shared_options_are_declared_once_in_options_py():
    shared = {"--bundle", "--database-url", "--format", "--head", "--json", "--background",
              "--workers", "--limit"}  # serve's --threads counts requests, not the model's
    options_py = SRC / "cli" / "options.py"
    assert shared | {"--threads"} <= _declared_flags(options_py)
    for path in SRC.rglob("*.py"):
        if path != options_py:
            assert not shared & _declared_flags(path), path


def test_nothing_below_the_cli_imports_it():
    for path in SRC.rglob("*.py"):
        if SRC / "cli" in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n == "smartalbum.cli" or
                        n.startswith("smartalbum.cli.")], path


@pytest.mark.parametrize(
    "args, expanded",
    [
        (["--examples", "a", "b", "--x"], ["--examples", "a", "--examples", "b", "--x"]),
        (["--examples=a", "b"], ["--examples=a", "--examples", "b"]),
        (["--examples", "-odd", "b"], ["--examples", "-odd", "--examples", "b"]),
        (["n", "--examples", "a", "--", "b"], ["n", "--examples", "a", "--", "b"]),
        (["--examples"], ["--examples"]),
    ],
)
def test_greedy_options_take_every_value_up_to_the_next_option(args, expanded):
    assert expand_greedy(args, {"--examples"}) == expanded


def test_a_greedy_command_parses_through_click():
    seen = {}

    @click.command(cls=GreedyCommand)
    @click.argument("name")
    @click.option("--examples", cls=GreedyOption)
    @click.option("--flag", is_flag=True)
    def cmd(name, examples, flag):
        seen.update(name=name, examples=examples, flag=flag)

    res = CliRunner().invoke(cmd, ["n", "--examples", "a", "b", "--flag", "--examples", "c"])
    assert res.exit_code == 0, res.output
    assert seen == {"name": "n", "examples": ("a", "b", "c"), "flag": True}
