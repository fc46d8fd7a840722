"""``/readyz``: each dependency checked on its own (model, database, broker, worker), the
answer kept for a few seconds.

Kept because the check runs the model and opens connections: an orchestrator probing every
second, or anyone on the network (the endpoint is public), would otherwise make each
process classify a picture and dial the broker per request. ``web.ready_cache_s`` (5 s)
bounds that to one check per process per period, and a recovering dependency is seen
within that period.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from smartalbum.web.state import WebState

EXTENSION_KEY = "smartalbum.readiness"
log = logging.getLogger(__name__)


@dataclass
class Check:
    """One dependency: ``ok`` True (up), False (down: not ready), None (not seen from this
    process, which does not make it unready: workers on other machines)."""

    ok: bool | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


@dataclass
class Readiness:
    checks: dict[str, Check]
    checked_at: float = field(default_factory=time.time)

    @property
    def down(self) -> dict[str, str]:
        return {name: c.detail for name, c in self.checks.items() if c.ok is False}

    def to_dict(self) -> dict[str, Any]:
        return {name: c.to_dict() for name, c in self.checks.items()}


def _model(state: WebState) -> Check:
    try:
        state.engine.classify([np.full((8, 8, 3), 127, dtype=np.uint8)], state.default_head)
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot classify"
        # the message stays in the log: /readyz is public, a model's internals are not
        log.exception("readiness: the model cannot run")
        return Check(False, f"the model cannot run: {type(exc).__name__}")
    return Check(True, f"{state.engine.bundle.name} {state.engine.version} runs")


def _database() -> Check:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from smartalbum.web.library_api import catalog_factory, get_library
    from smartalbum.web.problems import ProblemError

    try:
        factory = catalog_factory()  # tries to open it again when it was down at start
        with factory() as session:
            session.execute(text("SELECT 1"))
    except ProblemError as exc:
        return Check(False, exc.detail)
    except SQLAlchemyError as exc:
        return Check(False, f"the catalog does not answer: {type(exc).__name__}")
    return Check(True, f"the catalog at {get_library().url} answers")


def _broker(state: WebState) -> Check:
    from smartalbum.jobs.health import broker_problem

    why = broker_problem(state.settings)
    return Check(why is None, why or "the broker takes messages")


def _worker(state: WebState) -> Check:
    from smartalbum.jobs.embedded import worker_problem
    from smartalbum.jobs.liveness import check

    why = worker_problem(state.settings)  # serve's own worker, when it runs one
    if why:
        return Check(False, why)
    alive = check(state.settings)  # a worker on this data dir (serve's, or a local one)
    if alive.ok:
        return Check(True, alive.message)
    return Check(
        None,
        "no worker seen from this process (workers elsewhere are checked there: "
        "`smartalbum worker --check`)",
    )


def check_now(state: WebState) -> Readiness:
    return Readiness(
        {
            "model": _model(state),
            "database": _database(),
            "broker": _broker(state),
            "worker": _worker(state),
        }
    )


class ReadinessCache:
    """The last :class:`Readiness` for ``ttl_s`` seconds; one check at a time."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._last: Readiness | None = None
        self._at = 0.0

    def get(self, state: WebState) -> tuple[Readiness, bool]:
        """The readiness and whether it came from the cache."""
        with self._lock:  # concurrent probes wait for the one check, then share it
            now = time.monotonic()
            if self._last is not None and now - self._at < self.ttl_s:
                return self._last, True
            self._last, self._at = check_now(state), now
            return self._last, False
