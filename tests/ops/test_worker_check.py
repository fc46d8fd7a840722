"""Issue 14, operable: ``smartalbum worker --check`` tells an orchestrator whether the
worker in its container is alive, without the web server (exit 0 / 1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smartalbum.config import Settings
from smartalbum.jobs import liveness


def _check(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SMARTALBUM_")}
    environ.update(SMARTALBUM_DATA_DIR=str(data_dir), **env)
    return subprocess.run(
        [sys.executable, "-m", "smartalbum.cli", "worker", "--check"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_exit_codes_follow_the_heartbeat(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    none = _check(tmp_path / "data")
    assert none.returncode == 1 and "no worker runs" in none.stderr
    beat = liveness.Heartbeat(settings, "smartalbum-1@host", beat_s=0.2).start()
    try:
        alive = _check(tmp_path / "data")
        assert alive.returncode == 0, alive.stderr
        assert "smartalbum-1@host alive" in alive.stdout
    finally:
        beat.stop()
    assert _check(tmp_path / "data").returncode == 1  # stopped: its file is gone


def test_a_stale_heartbeat_a_dead_process_or_a_broken_broker_fail(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    folder = liveness.heartbeat_dir(settings)
    folder.mkdir(parents=True)
    beat = folder / "w.json"

    def write(**state) -> None:
        beat.write_text(json.dumps({"node": "w", "pid": os.getpid(), "at": time.time(), **state}))

    write(at=time.time() - 600)
    result = liveness.check(settings)
    assert not result.ok and "no heartbeat for" in result.message
    write(broker="the broker does not answer: ConnectionRefused")
    result = liveness.check(settings)
    assert not result.ok and "does not answer" in result.message
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write(pid=dead.pid)
    assert not liveness.check(settings).ok
    write()
    assert liveness.check(settings).ok


@pytest.mark.services
def test_a_real_worker_passes_the_check_until_it_is_killed(tmp_path: Path) -> None:
    """``smartalbum worker`` on the embedded broker: healthy while it runs, unhealthy once
    SIGKILLed (its heartbeat file stays, its process is gone)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTALBUM_")}
    env["SMARTALBUM_DATA_DIR"] = str(tmp_path / "data")
    worker = subprocess.Popen(
        [sys.executable, "-m", "smartalbum.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while _check(tmp_path / "data").returncode != 0:
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker never became healthy"
            time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    gone = _check(tmp_path / "data")
    assert gone.returncode == 1 and "is gone" in gone.stderr
