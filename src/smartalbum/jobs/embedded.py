"""The worker ``smartalbum serve`` runs itself: one ``smartalbum worker`` child process.

A child process, not a thread: indexing is CPU-bound Python (decoding, hashing) that would
compete with request threads for the GIL, and a crash in a decoder must not take the web
server down. The child inherits the environment, so it uses the same catalog and broker
(the embedded one unless SMARTALBUM_BROKER_URL is set).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from smartalbum.config import Settings


def stop_worker(proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """Warm shutdown (SIGTERM: finish the current batch), then SIGKILL if it hangs.
    A chunk cut short is taken up again by the next worker (see jobs.tasks)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment for a child worker: ours, plus the settings the server was given
    explicitly (catalog, broker, data dir, bundle), so both sides agree."""
    env = dict(os.environ)
    env["SMARTALBUM_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["SMARTALBUM_DATABASE_URL"] = settings.database_url
    if settings.broker_url:
        env["SMARTALBUM_BROKER_URL"] = settings.broker_url
    if settings.model.bundle:
        env["SMARTALBUM_MODEL__BUNDLE"] = str(settings.model.bundle)
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGTERM when the server dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _exit_on_sigterm(_signum: int, _frame: Any) -> None:
    raise SystemExit(0)


@contextmanager
def running_worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """A ``smartalbum worker`` child for the duration of the block.

    SIGTERM (``docker stop``, systemd) ends the block like Ctrl-C, so the child is stopped
    too; and on Linux the child is told to stop if the server dies without cleaning up.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartalbum.cli", "worker"],
        env=worker_env(settings),
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
    )
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield proc
    finally:
        stop_worker(proc)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
