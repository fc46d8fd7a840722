"""Run the web app on waitress, a production WSGI server with a thread pool.

Flask's development server handles one request at a time and is not meant to face a
network; waitress runs ``threads`` requests at once against the one shared engine,
buffers request bodies itself (refusing ones far over the limit before reading them) and
never shows tracebacks to clients.
"""

from __future__ import annotations

import ctypes
import io
import ipaddress
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smartalbum.config import Settings, get_settings
from smartalbum.web.multipart import IN_MEMORY_BODY_MAX

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

# waitress refuses bodies this much over the app's own limit outright (with a plain-text
# 413); anything in between is read and answered by the app as a problem document.
BODY_LIMIT_MARGIN_BYTES = 1024 * 1024


def make_server(
    app: Flask,
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    threads: int | None = None,
) -> Any:
    """A bound (not yet running) waitress server; ``port=0`` picks a free port.

    Call ``.run()`` to serve and ``.close()`` to stop.
    """
    from waitress.server import create_server

    return create_server(
        app,
        host=host,
        port=port,
        threads=threads or settings.web.threads,
        max_request_body_size=int(settings.web.max_upload_mb * 1024 * 1024)
        + BODY_LIMIT_MARGIN_BYTES,
        ident="smartalbum",
        clear_untrusted_proxy_headers=True,
        # Photos are megabytes: read the socket in large chunks and keep bodies up to
        # IN_MEMORY_BODY_MAX in memory instead of waitress's 512 kB spill-to-temp-file default.
        recv_bytes=256 * 1024,
        inbuf_overflow=IN_MEMORY_BODY_MAX,
    )


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(*, mmap_threshold: int = 32 << 20, trim_threshold: int = 64 << 20) -> bool:
    """Let glibc's malloc serve multi-megabyte buffers from the heap and keep them.

    Each upload passes through several buffers of its size (the body, its part, the
    decoder's input). By default glibc maps such buffers fresh from the kernel and returns
    them on free, so a 4 MB photo cost ~7,000 page faults: a third of the server's CPU
    outside decoding and the model (perf, docs/benchmarks.md). Allocations below
    ``mmap_threshold`` from the heap, and up to ``trim_threshold`` of free memory kept,
    gave +5 % throughput for ~+80 MB of RSS. Set before gunicorn forks, the workers inherit
    it. Returns False (and changes nothing) where the C library is not glibc.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim_threshold)
    )


class WholeBodyReader:
    """WSGI middleware: read a request body of known, allowed size in one call.

    Werkzeug reads a multipart body 64 KiB at a time; gunicorn answers each such read from
    its read-ahead buffer (up to 1 MiB) by copying the whole buffer twice, so a 4 MB photo
    cost ~100 MB of memmove, 11 % of the server's CPU (perf, docs/benchmarks.md). One read
    of the whole body costs two copies. Only bodies up to ``max_bytes`` (the app's own
    upload limit, at most web.multipart.IN_MEMORY_BODY_MAX = 32 MB, the size waitress too
    keeps in memory) are read ahead; a larger Content-Length is left to the app, which
    refuses it with 413 before reading it.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if 0 < length <= self.max_bytes:
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
        return self.app(environ, start_response)


def server_url(server: Any, host: str) -> str:
    """The URL a person can open for a server made by :func:`make_server`."""
    port = getattr(server, "effective_port", None)
    if port is None:  # several sockets (e.g. "localhost" -> IPv4 and IPv6)
        port = server.effective_listen[0][1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface


def exposure_problem(settings: Settings, host: str) -> str | None:
    """Why serving on ``host`` would be open to anyone on the network (None: it is not).

    A non-loopback address with neither an API key (anyone could use the API) nor job
    roots (its jobs could read any path the process can) is refused, unless
    ``web.allow_open``. Either one is a deliberate setup: the compose file binds 0.0.0.0
    inside its container with roots set and the port published on the host's loopback.
    """
    if is_loopback(host) or settings.web.allow_open:
        return None
    if settings.web.api_key or settings.jobs.roots:
        return None
    return (
        f"refusing to serve on {host} with neither an API key (SMARTALBUM_WEB__API_KEY) nor "
        "job roots (SMARTALBUM_JOBS__ROOTS): anyone who reaches it could make it read any "
        "path this process can; set one, or pass --allow-open (SMARTALBUM_WEB__ALLOW_OPEN=true)"
    )


def warn_open_paths(settings: Settings) -> None:
    """Say at start, loudly, that the jobs API may read any path when no roots are set."""
    if not settings.jobs.roots:
        log.warning(
            "SMARTALBUM_JOBS__ROOTS is not set: the jobs API may read (and organise into) any "
            "path this process can; set it to the photo folders (docs/deploy.md)"
        )


def check_catalog_schema(settings: Settings) -> None:
    """Open (create or upgrade) the catalog once before any process starts, so a catalog
    newer than this code stops ``serve`` with one line (``SchemaNewerError``, exit 3) rather
    than every gunicorn worker failing to boot. An unreachable database does not stop it:
    the app starts, answers 503 with Retry-After and uses the database once it is back."""
    from sqlalchemy.exc import SQLAlchemyError

    from smartalbum.library import db

    try:
        db.open_catalog(settings, url=db.default_url(settings))
    except (SQLAlchemyError, OSError) as exc:
        log.error("cannot open the catalog now (the server starts anyway): %s", exc)
    finally:
        db.dispose_all()  # no pooled connection crosses the fork


def serve(
    settings: Settings | None = None,
    host: str = "127.0.0.1",
    port: int = 5000,
    threads: int | None = None,
    processes: int | None = None,
    worker: bool = False,
) -> None:
    """Load the model, bind, print the URL, and serve until interrupted.

    ``worker``: also run a background-jobs worker (``smartalbum worker``, smartalbum.jobs)
    as a supervised child process (restarted when it dies) for as long as the server runs.

    ValueError (before anything starts) for a non-loopback ``host`` without an API key or
    job roots, unless ``web.allow_open`` (see :func:`exposure_problem`).

    One process runs waitress; several (``SMARTALBUM_WEB__PROCESSES``, default one per
    core) run gunicorn's threaded workers, each with its own engine: request parsing and
    the web framework hold Python's GIL, so one process cannot keep two cores busy
    (measured in docs/benchmarks.md).
    """
    settings = with_bound_host(settings or get_settings(), host)
    problem = exposure_problem(settings, host)
    if problem:
        raise ValueError(problem)
    from smartalbum.logs import configure_logging

    configure_logging(settings)
    warn_open_paths(settings)
    check_catalog_schema(settings)
    if worker:
        from smartalbum.jobs.embedded import running_worker

        with running_worker(settings):
            _serve_web(settings, host, port, threads, processes)
        return
    _serve_web(settings, host, port, threads, processes)


def with_bound_host(settings: Settings, host: str) -> Settings:
    """``settings`` whose web.allowed_hosts also names the address being bound (for every
    interface: this machine's name and addresses), so requests for it pass the Host check."""
    from smartalbum.web.security import hosts_for_bind

    extra = [h for h in hosts_for_bind(host) if h not in settings.web.allowed_hosts]
    if not extra:
        return settings
    web = settings.web.model_copy(update={"allowed_hosts": [*settings.web.allowed_hosts, *extra]})
    return settings.model_copy(update={"web": web})


def _serve_web(
    settings: Settings, host: str, port: int, threads: int | None, processes: int | None
) -> None:
    from smartalbum.web.security import shared_limit_warning

    processes = processes or settings.web.processes or (os.cpu_count() or 1)
    warning = shared_limit_warning(settings.web, processes)
    if warning:
        log.warning(warning)
    keep_freed_memory()
    if processes > 1:
        _serve_gunicorn(settings, host, port, threads or settings.web.threads, processes)
        return
    from smartalbum.web import create_app

    app = create_app(settings)
    server = make_server(app, settings, host=host, port=port, threads=threads)
    print(f"Smart Album is running at {server_url(server, host)}", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


@contextmanager
def prometheus_multiprocess_dir() -> Iterator[Path]:
    """A fresh folder for prometheus_client's multiprocess mode, for as long as the server
    processes run: each gunicorn worker writes its metrics there and ``/metrics`` in any of
    them sums all. Set before the fork (prometheus_client reads it at import). A folder the
    deployment gives in ``PROMETHEUS_MULTIPROC_DIR`` is used (and left) as is."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        yield Path(given)
        return
    with tempfile.TemporaryDirectory(prefix="smartalbum-metrics-") as folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        try:
            yield Path(folder)
        finally:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def _serve_gunicorn(settings: Settings, host: str, port: int, threads: int, workers: int) -> None:
    from smartalbum.model.bundle import Bundle

    Bundle.load(settings.model.bundle)  # fail here, with a clear message, not in each worker
    with prometheus_multiprocess_dir():
        _run_gunicorn(settings, host, port, threads, workers)


def _worker_exited(_server: Any, worker: Any) -> None:
    """gunicorn's child_exit hook: a dead worker's live gauges leave the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _run_gunicorn(settings: Settings, host: str, port: int, threads: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    from smartalbum.logs import gunicorn_logconfig

    shown = f"[{host}]" if ":" in host else host

    class SmartAlbumServer(BaseApplication):  # gunicorn's documented embedding API
        def load_config(self) -> None:
            options = {
                "bind": f"{shown}:{port}",
                "workers": workers,
                "worker_class": "gthread",
                "threads": threads,
                "timeout": 120,
                "graceful_timeout": 10,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
                "proc_name": "smartalbum",
                "child_exit": _worker_exited,
                "logconfig_dict": gunicorn_logconfig(settings) or {},
                "when_ready": lambda _server: print(
                    f"Smart Album is running at http://{shown}:{port}/ "
                    f"({workers} processes x {threads} threads)",
                    flush=True,
                ),
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from smartalbum.web import create_app

            limit = min(int(settings.web.max_upload_mb * 1024 * 1024), IN_MEMORY_BODY_MAX)
            # in each worker, after the fork
            return WholeBodyReader(create_app(settings), max_bytes=limit)

    SmartAlbumServer().run()
