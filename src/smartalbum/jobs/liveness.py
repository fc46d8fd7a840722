"""Worker liveness for orchestrators, without the web server: ``smartalbum worker --check``.

A running ``smartalbum worker`` keeps a heartbeat file in its data dir
(``<data_dir>/workers/<node>.json``), rewritten every :data:`BEAT_S` seconds by a thread of
the worker's main process, with what that thread last saw of the broker. A thread rather
than a broker ping: a worker with the solo pool (the default, one task at a time) does not
answer Celery's remote-control ping while it runs a chunk, so a busy worker would look dead.
The check passes when some worker on this data dir beat recently, its process is alive and
its broker answered; Docker's HEALTHCHECK and Kubernetes' exec probes run it in the worker's
own container, where the data dir is the worker's private volume.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from smartalbum.atomic import write_atomic
from smartalbum.config import Settings

log = logging.getLogger(__name__)

#: Seconds between two heartbeats.
BEAT_S = 10.0
#: A heartbeat older than this means the worker is stuck or gone.
STALE_AFTER_S = 3 * BEAT_S


def heartbeat_dir(settings: Settings) -> Path:
    return Path(settings.data_dir).expanduser() / "workers"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_state(path: Path, state: dict[str, object]) -> None:
    """Write a process's state file (JSON, atomically: a reader never sees half of it), or log
    why not: a state file is a report, so a full disk must not stop the process writing it
    (the worker's heartbeat here, ``serve``'s worker supervisor in embedded.py)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(state))
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc)


class Heartbeat:
    """The thread that writes a worker's heartbeat file until :meth:`stop` (which removes it)."""

    def __init__(self, settings: Settings, node: str, beat_s: float = BEAT_S) -> None:
        self.settings = settings
        self.path = heartbeat_dir(settings) / f"{node.replace('/', '_')}.json"
        self.node = node
        self.beat_s = beat_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="smartalbum-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def beat(self) -> None:
        """Write one heartbeat (atomically: a reader never sees half a file)."""
        from smartalbum.jobs.health import broker_problem

        try:
            broker = broker_problem(self.settings)
        except Exception as exc:  # noqa: BLE001 - the heartbeat must keep going
            broker = f"{type(exc).__name__}: {exc}"
        # a full disk: the check will see the beat grow stale
        write_state(
            self.path, {"node": self.node, "pid": os.getpid(), "at": time.time(), "broker": broker}
        )

    def _run(self) -> None:
        while not self._stop.wait(self.beat_s):
            self.beat()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)


@dataclass
class Liveness:
    ok: bool
    message: str


def check(settings: Settings, stale_after_s: float = STALE_AFTER_S) -> Liveness:
    """Whether a worker on this data dir is alive: a fresh heartbeat from a live process
    whose broker answered. The message says which worker, or why none passes."""
    now = time.time()
    reasons = []
    for path in sorted(heartbeat_dir(settings).glob("*.json")):
        try:
            state = json.loads(path.read_text())
            pid, at = int(state["pid"]), float(state["at"])
        except (OSError, ValueError, KeyError, TypeError):
            reasons.append(f"{path.name}: unreadable")
            continue
        node = state.get("node", path.stem)
        if not _alive(pid):
            reasons.append(f"{node}: process {pid} is gone")
        elif now - at > stale_after_s:
            reasons.append(f"{node}: no heartbeat for {now - at:.0f} s")
        elif state.get("broker"):
            reasons.append(f"{node}: {state['broker']}")
        else:
            return Liveness(True, f"worker {node} alive (heartbeat {now - at:.0f} s ago)")
    if not reasons:
        return Liveness(False, f"no worker runs on this data dir ({heartbeat_dir(settings)})")
    return Liveness(False, "no live worker: " + "; ".join(reasons))
