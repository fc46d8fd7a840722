"""The worker ``smartalbum serve`` runs itself: one ``smartalbum worker`` child process,
restarted by a supervisor thread when it dies.

A child process, not a thread: indexing is CPU-bound Python (decoding, hashing) that would
compete with request threads for the GIL, and a crash in a decoder must not take the web
server down. The child inherits the environment, so it uses the same catalog and broker
(the embedded one unless SMARTALBUM_BROKER_URL is set).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from smartalbum.config import Settings
from smartalbum.jobs.liveness import write_state

log = logging.getLogger(__name__)


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


#: Backoff between restarts of a worker that died: doubles from the first to the last.
RESTART_BACKOFF_S = (1.0, 60.0)
#: A worker that ran this long before dying starts the backoff over.
HEALTHY_RUN_S = 60.0


def status_file(settings: Settings) -> Path:
    """Where the supervisor says which worker it runs (read by ``/readyz`` in any process
    of the server, gunicorn's forked ones too)."""
    return Path(settings.data_dir).expanduser() / "broker" / "embedded-worker.json"


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_problem(settings: Settings) -> str | None:
    """Why the embedded worker of a running ``serve`` is down (None: it runs, or this data
    dir has no supervised worker: ``--no-worker`` or a stale file of a dead server)."""
    try:
        state = json.loads(status_file(settings).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not _alive(state.get("server")):
        return None
    if _alive(state.get("worker")):
        return None
    why = state.get("last_exit")
    return "the background-jobs worker is not running" + (f" ({why})" if why else "")


class Supervisor:
    """Runs ``command`` as a child and starts it again when it dies, with a backoff
    (1 s doubling to 60 s; reset after a run of a minute), until :meth:`stop`.

    A worker that cannot start (a damaged broker, a catalog that is briefly unreachable)
    is tried again rather than leaving ``serve`` without one for good; each exit is logged
    and written to :func:`status_file` for ``/readyz``.
    """

    def __init__(self, settings: Settings, command: list[str] | None = None) -> None:
        self.settings = settings
        self.command = command or [sys.executable, "-m", "smartalbum.cli", "worker"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.last_exit: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="smartalbum-worker", daemon=True)

    def start(self) -> Supervisor:
        self._spawn()
        self._thread.start()
        return self

    def _spawn(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self.proc = subprocess.Popen(
                self.command,
                env=worker_env(self.settings),
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
            )
        self._write_status()

    def _write_status(self) -> None:
        state = {
            "server": os.getpid(),
            "worker": self.proc.pid if self.proc and self.proc.poll() is None else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
        }
        # a full disk: /readyz then sees the dead pid itself
        write_state(status_file(self.settings), state)

    def _loop(self) -> None:
        delay = RESTART_BACKOFF_S[0]
        while not self._stop.is_set():
            proc = self.proc
            if proc is not None:
                started = time.monotonic()
                code = proc.wait()
                if self._stop.is_set():
                    return
                self.last_exit = f"exit code {code}"
                if time.monotonic() - started >= HEALTHY_RUN_S:
                    delay = RESTART_BACKOFF_S[0]
            self._write_status()
            log.error(
                "background-jobs worker down (%s); restarting in %.0f s", self.last_exit, delay
            )
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, RESTART_BACKOFF_S[1])
            self.restarts += 1
            try:
                self._spawn()
            except OSError as exc:
                self.last_exit = f"cannot start: {exc}"
                self.proc = None

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop restarting, then stop the current worker (warm, then SIGKILL)."""
        with self._lock:
            self._stop.set()
        if self.proc is not None:
            stop_worker(self.proc, timeout_s)
        self._thread.join(timeout=5)
        with suppress(OSError):
            status_file(self.settings).unlink()


@contextmanager
def running_worker(settings: Settings) -> Iterator[Supervisor]:
    """A supervised ``smartalbum worker`` child for the duration of the block.

    SIGTERM (``docker stop``, systemd) ends the block like Ctrl-C, so the child is stopped
    too; and on Linux the child is told to stop if the server dies without cleaning up.
    """
    supervisor = Supervisor(settings).start()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield supervisor
    finally:
        supervisor.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
