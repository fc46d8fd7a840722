"""Issue 16 at the edges: the CLI and the jobs API refuse /dev/zero fast with one line,
and follow symlinked folders (each photo once, loops included)."""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from smartalbum.cli import main
from smartalbum.jobs.app import make_celery, reset
from smartalbum.web import create_app

needs_dev_zero = pytest.mark.skipif(
    not os.path.exists("/dev/zero") or not os.path.exists("/proc/self/status"),
    reason="no /dev/zero or /proc",
)
needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")


@contextmanager
def memory_cap(extra_gb: float = 2.0) -> Iterator[None]:
    """Cap this process's address space at its current size + ``extra_gb`` while the block
    runs, so code that reads /dev/zero forever (the bug) fails with MemoryError instead of
    taking the machine down; the limit is restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    cap = vm + int(extra_gb * 2**30)
    resource.setrlimit(
        resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard)
    )
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _run(*args: str):
    with memory_cap():
        return CliRunner().invoke(main, list(args))


def _one_line_error(result, started: float) -> None:
    assert time.monotonic() - started < 30
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "not a photo file" in lines[0], result.output


@needs_dev_zero
def test_classify_dev_zero_is_one_line_error(tiny_bundle_dir: Path):
    started = time.monotonic()
    result = _run("classify", "/dev/zero", "--bundle", str(tiny_bundle_dir))
    _one_line_error(result, started)
    assert "/dev/zero: is a character device" in result.output


@needs_dev_zero
def test_index_dev_zero_is_one_line_error(tmp_path: Path, tiny_bundle_dir: Path):
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    started = time.monotonic()
    result = _run("index", "/dev/zero", "--bundle", str(tiny_bundle_dir), "--database-url", url)
    _one_line_error(result, started)


@needs_dev_zero
def test_index_job_on_dev_zero_is_400(app_settings):
    settings = app_settings(faces={"auto_scan": False})  # no ROOTS: any path may be named
    app = create_app(settings)
    make_celery(settings).conf.task_always_eager = True
    try:
        client = app.test_client()
        with memory_cap():  # the old code queued the job, and its eager run read forever
            response = client.post("/api/v1/jobs", json={"kind": "index", "paths": ["/dev/zero"]})
        assert response.status_code == 400, response.get_data(as_text=True)
        problem = response.get_json()
        assert problem["code"] == "not_a_regular_file" and "/dev/zero" in problem["detail"]
        response = client.post("/api/v1/jobs", json={"kind": "classify", "paths": ["/dev/zero"]})
        assert response.status_code == 400
        # /proc files stat as regular files; /proc/self/mem was accepted (202)
        for path in ("/proc/self/mem", "/proc/self/status"):
            response = client.post("/api/v1/jobs", json={"kind": "index", "paths": [path]})
            assert response.status_code == 400, path
            assert response.get_json()["code"] == "not_a_regular_file"
    finally:
        reset()


def _photos(tmp_path: Path) -> Path:
    """album/red.jpg and album/trip -> real (green.png, deeper/blue.png, deeper/up -> album)."""
    real, album = tmp_path / "real", tmp_path / "album"
    (real / "deeper").mkdir(parents=True)
    album.mkdir()
    Image.new("RGB", (40, 30), (240, 10, 10)).save(album / "red.jpg")
    Image.new("RGB", (40, 30), (10, 240, 10)).save(real / "green.png")
    Image.new("RGB", (40, 30), (10, 10, 240)).save(real / "deeper" / "blue.png")
    (album / "trip").symlink_to(real, target_is_directory=True)
    (real / "deeper" / "up").symlink_to(album, target_is_directory=True)  # a loop
    return album


@needs_symlinks
def test_classify_recursive_follows_a_symlinked_folder(tmp_path: Path, tiny_bundle_dir: Path):
    album = _photos(tmp_path)
    result = _run(
        "classify", str(album), "--recursive", "--bundle", str(tiny_bundle_dir), "--format", "json"
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    labels = {Path(r["path"]).name: r["label"] for r in rows}
    assert labels == {"red.jpg": "red", "green.png": "green", "blue.png": "blue"}
    assert len(rows) == 3  # each real file once, the loop walked once


@needs_symlinks
def test_classify_says_why_nothing_was_found(tmp_path: Path, tiny_bundle_dir: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("x")
    result = _run("classify", str(tmp_path / "docs"), "-r", "--bundle", str(tiny_bundle_dir))
    assert result.exit_code == 2
    assert "photo extension" in result.output and "use --recursive" not in result.output


@needs_symlinks
def test_index_follows_a_symlinked_folder(tmp_path: Path, tiny_bundle_dir: Path):
    album = _photos(tmp_path)
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    result = _run(
        "index",
        str(album),
        "--json",
        "--threads",
        "1",
        "--bundle",
        str(tiny_bundle_dir),
        "--database-url",
        url,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["new"] == 3 and summary["errors"] == 0
