"""Fixtures for the sync tests: a REAL rclone WebDAV server on loopback, never the internet.

``cloud`` starts ``rclone serve webdav`` on 127.0.0.1 (a free port, basic auth) over a temp
folder that plays the cloud, and writes a temporary rclone config (``RCLONE_CONFIG``) with a
remote named ``cloud`` pointing at it. When rclone is missing the tests are skipped, except
in CI (``CI=true``), where that is a failure: CI installs rclone (see .ci/run).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from smartalbum.config import get_settings


@pytest.fixture(scope="session")
def rclone_bin() -> str:
    found = shutil.which("rclone")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("rclone is not installed; CI must install it (apt-get install rclone)")
        pytest.skip("rclone is not installed (apt-get install rclone)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rclone serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("rclone serve did not start listening")


@dataclass
class Cloud:
    """The served folder (``root``), the remote's name, and the rclone config file."""

    root: Path
    remote: str
    config: Path
    url: str


@pytest.fixture
def cloud(rclone_bin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    root = tmp_path / "cloud"
    root.mkdir()
    port = _free_port()
    proc = subprocess.Popen(
        [
            rclone_bin,
            "serve",
            "webdav",
            str(root),
            "--addr",
            f"127.0.0.1:{port}",
            "--user",
            "alice",
            "--pass",
            "s3cret",
            "--config",
            os.devnull,
            # the tests change the served folder behind the server's back: no listing cache
            "--dir-cache-time",
            "0s",
            "--poll-interval",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc)
        obscured = subprocess.run(
            [rclone_bin, "obscure", "s3cret"], capture_output=True, text=True, check=True
        ).stdout.strip()
        config = tmp_path / "rclone.conf"
        url = f"http://127.0.0.1:{port}"
        config.write_text(
            f"[cloud]\ntype = webdav\nurl = {url}\nvendor = other\n"
            f"user = alice\npass = {obscured}\n"
        )
        monkeypatch.setenv("RCLONE_CONFIG", str(config))
        yield Cloud(root=root, remote="cloud", config=config, url=url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def sync_env(
    tmp_path: Path, tiny_bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Settings for a sync run: data dir (SQLite catalog), mirror root, the tiny model."""
    data = tmp_path / "data"
    monkeypatch.setenv("SMARTALBUM_DATA_DIR", str(data))
    monkeypatch.setenv("SMARTALBUM_SYNC__MIRROR_ROOT", str(tmp_path / "mirrors"))
    monkeypatch.setenv("SMARTALBUM_MODEL__BUNDLE", str(tiny_bundle_dir))
    monkeypatch.delenv("SMARTALBUM_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()
