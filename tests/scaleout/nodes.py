"""Separate machines on one host: a web node and N workers, each with a data dir nobody else sees.

Every node runs in its own mount namespace (``unshare -m``, as root) where a fresh tmpfs is
mounted over the same path, :data:`DATA_MOUNT`, and ``SMARTALBUM_DATA_DIR`` points there. So
all nodes use "the same" data dir path, as a fleet of identically configured machines would,
yet a file one node writes there is invisible to the others (and to the test process): any
state that only lives in a data dir shows up as a failure, exactly as on separate machines.
What the nodes share is what real machines share: the catalog (a fresh PostgreSQL database per
test), the broker (a Redis database number of the test's own), the installed code and bundle,
and whatever folders the test hands them (a photo folder on a "NAS").

Reusable: ``tests/scaleout`` and any test that needs real separate nodes, e.g.::

    with cluster(tmp_path, tiny_bundle_dir, redis_db=12) as c:
        web = c.start_web()
        w1, w2 = c.start_worker(), c.start_worker()
        c.wait_ready()
        web.get("/api/v1/jobs") ...
        w1.kill()              # SIGKILL, like a machine dying
        w2.run_cli("head", "list")   # a CLI command inside that node's namespace

Requirements: root, ``unshare``/``nsenter`` (util-linux), PostgreSQL and Redis on 127.0.0.1.
Missing services skip locally and fail under ``CI=true`` (:func:`require_nodes`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: The data dir path every node uses; each node has its own tmpfs mounted over it.
DATA_MOUNT = Path("/srv/smartalbum-data")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: the multi-node tests must run)")
    pytest.skip(reason)


def require_nodes() -> None:
    """Skip (locally) or fail (CI=true) when separate nodes cannot be made here."""
    if os.geteuid() != 0:
        _unavailable("multi-node tests need root (unshare -m, mount)")
    for tool in ("unshare", "nsenter", "mount"):
        if shutil.which(tool) is None:
            _unavailable(f"multi-node tests need {tool} (util-linux)")
    try:
        socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1).close()
    except OSError:
        _unavailable(f"Redis is not running on {REDIS_HOST}:{REDIS_PORT} (.ci/run starts it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    """One node: a process inside its own mount namespace with a private data dir."""

    name: str
    process: subprocess.Popen
    log: Path
    env: dict[str, str]
    url: str | None = None  # web nodes: http://127.0.0.1:<port>

    @property
    def pid(self) -> int:
        """The pid inside the namespace (``unshare`` execs the shell, which execs Python)."""
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return f"--- {self.name} ---\n" + self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return f"--- {self.name}: no log ---"

    def stop(self, timeout_s: float = 15) -> None:
        """SIGTERM (a graceful shutdown), SIGKILL after ``timeout_s``."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL: the machine dies mid-work. Its tmpfs goes with its namespace."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=15)

    def run_cli(
        self, *args: str, timeout_s: float = 120, check: bool = False
    ) -> subprocess.CompletedProcess:
        """``smartalbum <args>`` inside this node's namespace (sees its data dir only)."""
        return self.run(
            [sys.executable, "-m", "smartalbum.cli", *args], timeout_s=timeout_s, check=check
        )

    def run(
        self, argv: Sequence[str], timeout_s: float = 120, check: bool = False
    ) -> subprocess.CompletedProcess:
        """Any command inside this node's mount namespace, with the node's environment."""
        if not self.alive():
            raise RuntimeError(f"{self.name} is not running:\n{self.log_tail()}")
        return subprocess.run(
            ["nsenter", "-t", str(self.pid), "-m", "--", *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=check,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 60,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request to a web node: (status, headers, body), errors included."""
        assert self.url, f"{self.name} is not a web node"
        req = urllib.request.Request(
            self.url + path, data=body, method=method, headers=dict(headers or {})
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def get_json(self, path: str) -> tuple[int, Any]:
        status, _, body = self.request("GET", path)
        return status, json.loads(body or b"null")

    def post_json(self, path: str, payload: Any) -> tuple[int, Any]:
        status, _, body = self.request(
            "POST",
            path,
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        return status, json.loads(body or b"null")

    def post_files(
        self,
        path: str,
        files: Sequence[tuple[str, str, bytes]],
        fields: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """multipart/form-data: ``files`` are (field, filename, bytes)."""
        body, content_type = multipart(files, fields or {})
        status, _, raw = self.request(
            "POST", path, body=body, headers={"Content-Type": content_type}
        )
        return status, json.loads(raw or b"null")


def multipart(
    files: Sequence[tuple[str, str, bytes]], fields: Mapping[str, str]
) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = f"----smartalbum{os.urandom(8).hex()}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, filename, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class Cluster:
    """Nodes sharing one catalog and one broker; each with its own private data dir."""

    database_url: str
    broker_url: str
    bundle: Path
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment every node gets (this process's, minus its SMARTALBUM_ settings)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTALBUM_")}
        src = str(Path(__file__).resolve().parents[2] / "src")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
        env.update(
            SMARTALBUM_DATA_DIR=str(DATA_MOUNT),
            SMARTALBUM_DATABASE_URL=self.database_url,
            SMARTALBUM_BROKER_URL=self.broker_url,
            SMARTALBUM_MODEL__BUNDLE=str(self.bundle),
            SMARTALBUM_MODEL__THREADS="1",
            SMARTALBUM_MODEL__BATCH_SIZE="4",
            SMARTALBUM_WEB__RATE_LIMIT="",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def start(self, name: str, argv: Sequence[str], *, url: str | None = None, **env: str) -> Node:
        """Run ``argv`` as a new node ``name`` in a fresh mount namespace with a private tmpfs
        over :data:`DATA_MOUNT` (mode 0700: only that node's processes see it)."""
        DATA_MOUNT.mkdir(parents=True, exist_ok=True)
        script = f'mount -t tmpfs -o size=1g,mode=0700 smartalbum-{name} {DATA_MOUNT} && exec "$@"'
        log = self.log_dir / f"{name}.log"
        environment = self.env(**env)
        process = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "--", "sh", "-c", script, name, *argv],
            env=environment,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        node = Node(name, process, log, environment, url)
        self.nodes.append(node)
        return node

    def start_web(self, name: str = "web", **env: str) -> Node:
        """``smartalbum serve --no-worker`` (waitress, one process) on a free loopback port."""
        port = free_port()
        argv = [
            sys.executable, "-m", "smartalbum.cli", "serve", "--no-worker",
            "--host", "127.0.0.1", "--port", str(port), "--processes", "1", "--threads", "4",
        ]  # fmt: skip
        return self.start(name, argv, url=f"http://127.0.0.1:{port}", **env)

    def start_worker(self, name: str | None = None, concurrency: int = 1, **env: str) -> Node:
        """``smartalbum worker`` (Celery, one pool process by default)."""
        name = name or f"worker{sum(1 for n in self.nodes if n.url is None) + 1}"
        argv = [
            sys.executable, "-m", "smartalbum.cli", "worker",
            "--concurrency", str(concurrency), "--loglevel", "INFO",  # INFO logs "ready."
        ]  # fmt: skip
        return self.start(name, argv, **env)

    def wait_ready(self, timeout_s: float = 90) -> None:
        """Until every web node answers /healthz and every worker logged "ready"."""
        deadline = time.monotonic() + timeout_s
        pending = list(self.nodes)
        while pending and time.monotonic() < deadline:
            for node in list(pending):
                if not node.alive():
                    raise RuntimeError(
                        f"{node.name} exited ({node.process.returncode}):\n{node.log_tail()}"
                    )
                if node.url is not None:
                    try:
                        ready = node.request("GET", "/healthz", timeout_s=2)[0] == 200
                    except OSError:
                        ready = False
                else:
                    ready = b" ready." in node.log.read_bytes()
                if ready:
                    pending.remove(node)
            time.sleep(0.2)
        if pending:
            raise RuntimeError("not ready in time:\n" + "\n".join(n.log_tail() for n in pending))

    def logs(self) -> str:
        return "\n".join(n.log_tail() for n in self.nodes)

    def stop_all(self) -> None:
        for node in self.nodes:
            if node.alive():
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            node.stop()


@contextmanager
def cluster(tmp_path: Path, bundle: Path, *, redis_db: int, **extra_env: str) -> Iterator[Cluster]:
    """A fresh PostgreSQL catalog (schema upgraded) + Redis db ``redis_db`` (flushed), and a
    :class:`Cluster` over them; every node is stopped at the end."""
    from library.catalogs import postgres_database

    require_nodes()
    broker = f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}"
    import redis

    redis.Redis.from_url(broker).flushdb()
    log_dir = tmp_path / "node-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database())
        _upgrade(url, tmp_path)
        nodes = Cluster(url, broker, bundle, log_dir, dict(extra_env))
        try:
            yield nodes
        finally:
            nodes.stop_all()
            redis.Redis.from_url(broker).flushdb()


def _upgrade(url: str, tmp_path: Path) -> None:
    """Bring the new catalog to the current schema once, before nodes race to do it."""
    from smartalbum.config import Settings
    from smartalbum.library import db

    db.open_catalog(Settings(data_dir=tmp_path / "upgrade-data", database_url=url))
