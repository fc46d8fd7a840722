"""The deployment shapes, run as plain processes: the container's entry commands (from the
Dockerfile and docker-compose.yml, with the compose environment pointed at the local Redis
and PostgreSQL), ``smartalbum serve`` with its own embedded worker, and the serverless
handler."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from library.catalogs import temporary_catalog

from .conftest import require_redis

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/13"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _photos(root: Path, n: int = 12) -> Path:
    rng = np.random.default_rng(3)
    root.mkdir(parents=True)
    for i in range(n):
        colour = np.array([(220, 30, 30), (30, 200, 40), (30, 40, 220)][i % 3], np.int16)
        pixels = colour + rng.integers(-20, 21, size=(72, 96, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(root / f"p{i}.jpg")
    return root


def _base_env(tmp_path: Path, bundle: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTALBUM_")}
    env.update(
        SMARTALBUM_DATA_DIR=str(tmp_path / "data"),
        SMARTALBUM_MODEL__BUNDLE=str(bundle),
        SMARTALBUM_JOBS__STALE_AFTER_S="5",
        # these tests count index jobs; the face scan an index job queues is tested elsewhere
        SMARTALBUM_FACES__AUTO_SCAN="false",
    )
    return env


def _smartalbum(argv: list[str]) -> list[str]:
    """A command of the image (``smartalbum ...``) as this interpreter runs it."""
    assert argv[0] == "smartalbum"
    return [sys.executable, "-m", "smartalbum.cli", *argv[1:]]


def _wait_healthy(base: str, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if requests.get(f"{base}/healthz", timeout=2).ok:
                return
        except requests.RequestException:
            time.sleep(0.2)
    pytest.fail("the server did not become healthy")


def _run_index_job(base: str, folder: Path, timeout_s: float = 90) -> dict:
    response = requests.post(
        f"{base}/api/v1/jobs", json={"kind": "index", "paths": [str(folder)]}, timeout=10
    )
    assert response.status_code == 202, response.text
    url = base + response.headers["Location"]
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        job = requests.get(url, timeout=10).json()
        seen.append(job["done"])
        if job["status"] in ("done", "failed", "cancelled"):
            assert seen == sorted(seen)
            return job
        time.sleep(0.2)
    pytest.fail(f"job not finished: {job}")


def _stop(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's ``${VAR:-default}`` / ``${VAR:?message}``, from ``given`` (else the default;
    a missing required one fails, as compose does)."""

    def one(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if name in given:
            return given[name]
        if op == ":?":
            pytest.fail(f"compose needs {name}: {rest}")
        return rest or ""

    return re.sub(r"\$\{(\w+)(:-|:\?)?([^}]*)\}", one, value)


def _compose() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _dockerfile_health() -> list[str]:
    dockerfile = (REPO / "Dockerfile").read_text()
    return json.loads(re.search(r"^\s+CMD (\[.*\])$", dockerfile, re.M).group(1))


def test_deploy_files_cache_dependencies_pin_them_and_mount_the_photos() -> None:
    """Issue 14, deployable: dependency layer before the source, versions pinned without
    torch, the photo folder bind-mounted from $PHOTOS, private data dirs, scalable workers,
    healthchecks that fit each role, and docs that install the release wheel."""
    import tomllib
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    dockerfile = (REPO / "Dockerfile").read_text()
    steps = [line for line in dockerfile.splitlines() if re.match(r"(COPY|RUN) ", line)]
    constraints_at = next(i for i, s in enumerate(steps) if s.startswith("COPY constraints.txt"))
    deps_at = next(i for i, s in enumerate(steps) if "-r constraints.txt" in s)
    src_at = next(i for i, s in enumerate(steps) if s.startswith("COPY src"))
    assert constraints_at < deps_at < src_at  # a source edit leaves the dependency layer cached
    assert not any(s.startswith("COPY . ") for s in steps)
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    assert wanted <= set(pins), wanted - set(pins)  # every serving dependency is pinned
    assert not {"torch", "torchvision", "triton"} & set(pins)  # the serving image has no torch
    assert "scripts/constraints.py" in (REPO / "constraints.txt").read_text()  # how to redo it
    compose = _compose()
    services = compose["services"]
    for role in ("web", "worker"):
        volumes = services[role]["volumes"]
        photos = [v for v in volumes if v.endswith(":/photos:ro")]
        assert photos and photos[0].startswith("${PHOTOS:?")  # a bind mount of your folder
        assert "/data" in volumes  # an anonymous volume: private to each container
        assert not any(v.split(":")[0] in compose.get("volumes", {}) for v in volumes)
    worker = services["worker"]
    assert "ports" not in worker and "container_name" not in worker  # --scale worker=N works
    assert worker["healthcheck"]["test"] == ["CMD", "smartalbum", "worker", "--check"]
    web_health = services["web"]["healthcheck"]["test"]
    assert web_health == ["CMD", *_dockerfile_health()] and "/readyz" in web_health[-1]
    assert set(services) == {"web", "worker", "redis", "postgres"}
    deploy = (REPO / "docs" / "deploy.md").read_text()
    assert "pip install smart-album" not in deploy and "smart_album-" in deploy


@pytest.mark.services
def test_container_entry_commands_run_as_plain_processes(tmp_path: Path, tiny_bundle_dir) -> None:
    """web (Dockerfile CMD) + worker (compose) with compose's environment, Redis + PostgreSQL;
    the image's healthcheck and the worker's own (``smartalbum worker --check``)."""
    require_redis(REDIS_URL)
    dockerfile = (REPO / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))
    health = _dockerfile_health()
    services = _compose()["services"]
    assert services["web"]["command"] == cmd
    assert "--no-worker" in cmd and "torch" not in dockerfile.split("RUN", 1)[1].split("\n")[0]
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    compose_env = {k: _interpolate(v, {}) for k, v in services["worker"]["environment"].items()}
    assert services["worker"]["environment"] == services["web"]["environment"]
    assert {"SMARTALBUM_BROKER_URL", "SMARTALBUM_DATABASE_URL"} <= set(compose_env)
    photos = _photos(tmp_path / "photos")
    port = _free_port()
    with temporary_catalog("postgresql", tmp_path) as url:
        env = _base_env(tmp_path, tiny_bundle_dir)
        env.update(compose_env)  # the compose environment, pointed at the local services
        env.update(
            SMARTALBUM_DATABASE_URL=url,
            SMARTALBUM_BROKER_URL=REDIS_URL,
            SMARTALBUM_WEB__RATE_LIMIT_STORAGE="memory://",
            SMARTALBUM_JOBS__ROOTS=json.dumps([str(photos)]),
        )
        web_cmd = _smartalbum(cmd)
        web_cmd[web_cmd.index("--port") + 1] = str(port)
        web_cmd[web_cmd.index("--host") + 1] = "127.0.0.1"
        web = subprocess.Popen(web_cmd, env=env, stdout=subprocess.DEVNULL)
        worker = subprocess.Popen(_smartalbum(services["worker"]["command"]), env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base, web)
            probe = [sys.executable if a == "python" else a for a in health]
            probe[-1] = probe[-1].replace("127.0.0.1:5000", f"127.0.0.1:{port}")
            assert subprocess.run(probe, timeout=30).returncode == 0
            job = _run_index_job(base, photos)
            worker_health = _smartalbum(services["worker"]["healthcheck"]["test"][1:])
            alive = subprocess.run(worker_health, env=env, capture_output=True, timeout=60)
            assert alive.returncode == 0, alive.stderr
        finally:
            _stop(web, worker)
        assert job["status"] == "done" and job["done"] == job["total"] == 12
        # the worker stopped: its healthcheck fails
        assert subprocess.run(worker_health, env=env, capture_output=True).returncode == 1


@pytest.mark.services
def test_local_serve_runs_its_own_worker_and_the_cli_sees_the_jobs(
    tmp_path: Path, tiny_bundle_dir
) -> None:
    """`smartalbum serve` on a fresh machine: SQLite + embedded broker, no other server."""
    photos = _photos(tmp_path / "photos")
    port = _free_port()
    env = _base_env(tmp_path, tiny_bundle_dir)
    env["SMARTALBUM_JOBS__CHUNK_SIZE"] = "4"
    serve = subprocess.Popen(
        _smartalbum(["smartalbum", "serve", "--port", str(port), "--processes", "1"]),
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", serve)
        children = subprocess.run(["pgrep", "-P", str(serve.pid)], capture_output=True, text=True)
        (worker_pid,) = map(int, children.stdout.split())  # the embedded worker
        job = _run_index_job(f"http://127.0.0.1:{port}", photos)
        assert job["status"] == "done" and job["done"] == job["total"] == 12
        # the CLI submits to the same workers and waits with a progress bar
        more = _photos(tmp_path / "more", n=5)
        waited = subprocess.run(
            _smartalbum(["smartalbum", "index", str(more), "--wait"]),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert waited.returncode == 0, waited.stderr
        assert " done " in waited.stdout and "5/5" in waited.stdout
        background = subprocess.run(
            _smartalbum(["smartalbum", "index", str(photos), "--background"]),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        job_id = background.stdout.strip()
        assert background.returncode == 0 and re.fullmatch(r"[0-9a-f]{32}", job_id)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = subprocess.run(
                _smartalbum(["smartalbum", "jobs", "--json"]),
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            rows = [json.loads(line) for line in listed.stdout.splitlines()]
            if rows[0]["status"] == "done":
                break
            time.sleep(0.5)
        assert [r["id"] for r in rows][0] == job_id and len(rows) == 3
        assert all(r["status"] == "done" for r in rows)
        assert rows[0]["done"] == 12  # all unchanged: already indexed by the first job
    finally:
        _stop(serve)
    # SIGTERM to the server (docker stop) stopped its worker too
    assert serve.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, tiny_bundle_dir: Path):
    from smartalbum import config, serverless

    monkeypatch.setenv("SMARTALBUM_MODEL__BUNDLE", str(tiny_bundle_dir))
    config.get_settings.cache_clear()  # the engine: Engine.from_settings, cached per bundle
    yield serverless.handler
    config.get_settings.cache_clear()


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.full((60, 80, 3), colour, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def test_serverless_handler_classifies_direct_and_http_events(lambda_env) -> None:
    handler = lambda_env
    red = base64.b64encode(_jpeg((220, 30, 30))).decode()
    direct = handler({"image": red, "filename": "r.jpg"}, None)
    assert direct["statusCode"] == 200
    body = json.loads(direct["body"])
    assert body["label"] == "red" and body["filename"] == "r.jpg" and body["head"] == "colours"
    blue = base64.b64encode(_jpeg((30, 40, 220))).decode()
    http = handler(
        {"body": blue, "isBase64Encoded": True, "queryStringParameters": {"head": "strict"}}, None
    )
    assert http["statusCode"] == 200
    body = json.loads(http["body"])
    assert body["head"] == "strict" and body["filename"] == "image"
    assert max(body["probabilities"], key=body["probabilities"].get) == "blue"


@pytest.mark.parametrize(
    "event, status, code",
    [
        ({}, 400, "no_file"),
        ({"image": "***not base64***"}, 400, "no_file"),
        ({"image": base64.b64encode(b"not a photo").decode()}, 415, "not_an_image"),
        ({"image": base64.b64encode(b"").decode()}, 400, "empty_file"),
        ("nope", 400, "bad_event"),
    ],
)
def test_serverless_handler_answers_bad_events_with_problems(lambda_env, event, status, code):
    response = lambda_env(event, None)
    assert response["statusCode"] == status
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert json.loads(response["body"])["code"] == code


def test_serverless_handler_refuses_an_unknown_head(lambda_env) -> None:
    red = base64.b64encode(_jpeg((220, 30, 30))).decode()
    response = lambda_env({"image": red, "head": "nope"}, None)
    body = json.loads(response["body"])
    assert response["statusCode"] == 400 and "colours" in body["detail"]
    assert body["code"] == "unknown_head" and body["available"] == ["colours", "strict"]


@pytest.mark.services
def test_one_worker_with_concurrency_2_runs_chunks_in_two_processes(
    tmp_path: Path, tiny_bundle_dir
) -> None:
    """`smartalbum worker --concurrency 2` (prefork): chunks are taken by two children."""
    from sqlalchemy import select

    from smartalbum.config import Settings
    from smartalbum.jobs import store
    from smartalbum.jobs.app import make_celery, reset
    from smartalbum.jobs.submit import submit_index, wait
    from smartalbum.library import db
    from smartalbum.library.schema import JobChunk

    photos = _photos(tmp_path / "photos", n=16)
    env = _base_env(tmp_path, tiny_bundle_dir)
    settings = Settings(data_dir=tmp_path / "data", model={"bundle": tiny_bundle_dir})
    factory = db.open_catalog(settings)[1]
    worker = subprocess.Popen(
        _smartalbum(["smartalbum", "worker", "--concurrency", "2"]),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        app = make_celery(settings)
        job_id = submit_index(settings, factory, [photos], chunk_size=2, app=app)
        job = wait(factory, job_id, poll_s=0.1, timeout_s=90)
    finally:
        _stop(worker)
        reset()
        db.dispose_all()
    assert job.status == "done" and job.done == job.total == 16
    assert store.job_to_dict(job)["errors"] == 0
    with factory() as s:
        holders = set(s.scalars(select(JobChunk.claimed_by)))
    assert len(holders) == 2 and str(worker.pid) not in {h.split(":")[1] for h in holders}
