"""The Celery application: broker choice, reliability settings, one app per process.

Broker: ``SMARTALBUM_BROKER_URL`` (``redis://…`` to scale out over machines) or, by
default, an *embedded* broker that needs no server: kombu's filesystem transport in
``<data_dir>/broker``. It was measured against kombu's SQLAlchemy transport on a SQLite
file (300 messages of 200 bytes): filesystem 0.30 ms to publish / 0.27 ms to consume a
message, SQLAlchemy+SQLite 4.1 ms / 2.8 ms, and it adds no writer to contend with a SQLite
catalog. Messages are claimed by an atomic rename, so several local worker processes
never take the same one.

Reliability does not depend on the broker keeping messages: tasks are ``acks_late`` and
idempotent, and the catalog's job rows say which chunks are unfinished; a worker sweeps
chunks whose worker stopped heartbeating and sends them again (tasks.sweep). That covers
brokers that drop an unacknowledged message when its consumer is SIGKILLed (both embedded
transports do) as well as Redis.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from celery import Celery

from smartalbum.config import Settings, get_settings
from smartalbum.jobs import broker

QUEUE = "smartalbum"
_apps: dict[str, Celery] = {}
_lock = threading.Lock()


def broker_url(settings: Settings) -> str:
    """The configured broker URL, or the embedded filesystem broker's."""
    return settings.broker_url or "filesystem://"


def is_embedded(settings: Settings) -> bool:
    return broker_url(settings).startswith("filesystem://")


def embedded_base(settings: Settings) -> Path:
    """The embedded broker's folder (``<data_dir>/broker``)."""
    return Path(settings.data_dir).expanduser() / "broker"


def embedded_folders(settings: Settings) -> dict[str, Any]:
    """Transport options of the embedded broker (folders created on first use).

    ``processed`` must be on the same file system as ``queue``: claiming a message is a
    rename, which is atomic only there (kombu's default, the temp dir, may not be).
    """
    base = embedded_base(settings)
    queue, processed = base / "queue", base / "processed"
    for folder in (queue, processed):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "store_processed": True,  # else kombu moves to the temp dir (maybe another disk)
        "control_folder": str(base / "control"),
        # A polled transport: kombu's default (1 s) would leave a worker idle for up to a
        # second between two chunks; listing a small folder 10 times a second costs nothing.
        "polling_interval": 0.1,
    }


def make_celery(settings: Settings | None = None) -> Celery:
    """A configured Celery app for ``settings`` (one per broker URL and data dir, cached)."""
    settings = settings or get_settings()
    url = broker_url(settings)
    key = f"{url}|{Path(settings.data_dir).expanduser()}"
    with _lock:
        app = _apps.get(key)
        if app is not None:
            return app
        app = Celery("smartalbum", broker=url, set_as_current=False)
        options: dict[str, Any] = {}
        if is_embedded(settings):
            options = embedded_folders(settings)
            (Path(options["control_folder"])).mkdir(parents=True, exist_ok=True)
            # files a full disk truncated would fail every publish and the worker's start
            broker.repair(embedded_base(settings))
        else:
            # Redis re-delivers an unacknowledged message after this; the catalog sweep
            # usually re-sends a dead worker's chunk sooner (JobSettings.stale_after_s).
            options = {"visibility_timeout": 3600}
        app.conf.update(
            broker_transport_options=options,
            broker_connection_retry_on_startup=True,
            task_default_queue=QUEUE,
            task_serializer="json",
            accept_content=["json"],
            task_ignore_result=True,  # the catalog's job rows are the results
            task_acks_late=True,  # a task killed mid-way is not lost...
            task_reject_on_worker_lost=True,  # ...not even when only a pool child dies
            worker_prefetch_multiplier=1,  # a worker holds one chunk beyond what it runs
            worker_enable_remote_control=not is_embedded(settings),
            worker_hijack_root_logger=False,
            broker_pool_limit=4,
        )
        app.conf.smartalbum_settings = settings
        from smartalbum.jobs import tasks

        tasks.bind(app)
        _connect_worker_signals(app)
        _apps[key] = app
        return app


def _connect_worker_signals(app: Celery) -> None:
    """In a worker of ``app`` (``smartalbum worker`` or ``celery -A smartalbum.jobs.app
    worker``): the sweep thread in the main process, fresh connections in pool children."""
    from celery.signals import worker_process_init, worker_ready, worker_shutdown

    from smartalbum.jobs.liveness import Heartbeat
    from smartalbum.jobs.store import worker_name
    from smartalbum.jobs.tasks import start_heartbeat, start_sweeper
    from smartalbum.library import db

    stop = threading.Event()
    beats: list[Heartbeat] = []

    def ready(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is app:
            start_sweeper(app, stop)
            # liveness for `smartalbum worker --check` (jobs.liveness)
            node = getattr(sender, "hostname", None) or f"worker-{os.getpid()}"
            beats.append(Heartbeat(app.conf.smartalbum_settings, node).start())
            controller = getattr(sender, "controller", None)
            concurrency = int(getattr(controller, "concurrency", None) or 1)
            start_heartbeat(app, stop, worker_name(), concurrency)

    def shutdown(**_: Any) -> None:
        stop.set()
        while beats:
            beats.pop().stop()

    def child(**_: Any) -> None:
        db.dispose_all()  # never share the parent's pooled connections after a fork

    worker_ready.connect(ready, weak=False)
    worker_shutdown.connect(shutdown, weak=False)
    worker_process_init.connect(child, weak=False)


def reset() -> None:
    """Forget cached apps (tests)."""
    with _lock:
        _apps.clear()


def __getattr__(name: str) -> Any:
    """``celery -A smartalbum.jobs.app worker`` finds the configured app as ``celery``."""
    if name == "celery":
        return make_celery()
    raise AttributeError(name)
