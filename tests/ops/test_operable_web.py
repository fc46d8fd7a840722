"""Issue 14, operable, over HTTP: a database or broker that is down is a 503 problem with
Retry-After (never a plain 500); ``/readyz`` reports each dependency and keeps its answer a
few seconds (issue 16 item 7); JSON logs; Prometheus metrics."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import sessionmaker

from smartalbum.library.db import create_catalog_engine
from smartalbum.web import create_app
from smartalbum.web.library_api import EXTENSION_KEY as LIBRARY_KEY
from smartalbum.web.state import get_state

PROBLEM = "application/problem+json"


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_unavailable(response, code: str) -> dict:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["code"] == code and body["status"] == 503
    assert "Traceback" not in body["detail"]
    return body


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    return folder


def test_broker_down_is_503_with_retry_after(app_settings, photos: Path) -> None:
    settings = app_settings(broker_url=f"redis://127.0.0.1:{closed_port()}/0")
    client = create_app(settings).test_client()
    response = client.post("/api/v1/jobs", json={"kind": "index", "paths": [str(photos)]})
    body = assert_unavailable(response, "broker_unavailable")
    assert "failed" in body["detail"]  # the job is failed with the reason, not left queued
    jobs = client.get("/api/v1/jobs").get_json()["jobs"]
    assert [j["status"] for j in jobs] == ["failed"]
    ready = client.get("/readyz")
    body = assert_unavailable(ready, "not_ready")
    assert set(body["down"]) == {"broker"}
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True and body["checks"]["model"]["ok"] is True


def test_database_down_at_start_is_503_and_used_once_back(app_settings, photos, monkeypatch):
    down = f"postgresql://smartalbum@127.0.0.1:{closed_port()}/smartalbum"
    settings = app_settings().model_copy(update={"database_url": down})
    app = create_app(settings)  # starts anyway: classifying needs no catalog
    client = app.test_client()
    response = client.post("/api/v1/jobs", json={"kind": "index", "paths": [str(photos)]})
    assert_unavailable(response, "catalog_unavailable")
    assert_unavailable(client.get("/api/v1/jobs"), "catalog_unavailable")
    ready = assert_unavailable(client.get("/readyz"), "not_ready")
    assert "database" in ready["down"] and ready["checks"]["model"]["ok"] is True
    # the database comes back: the next request after the retry pause opens it
    library = app.extensions[LIBRARY_KEY]
    library.settings = app_settings()  # the SQLite catalog stands for the restored database
    library.failed_at = 0.0
    assert client.get("/api/v1/jobs").status_code == 200


def test_database_down_after_start_is_503_not_500(app_settings, photos: Path) -> None:
    app = create_app(app_settings())
    client = app.test_client()
    assert client.get("/api/v1/jobs").status_code == 200
    # the database goes away: the same catalog now answers "connection refused"
    gone = create_catalog_engine(f"postgresql://x@127.0.0.1:{closed_port()}/x")
    app.extensions[LIBRARY_KEY].factory = sessionmaker(bind=gone)
    assert_unavailable(client.get("/api/v1/jobs"), "database_unavailable")
    response = client.post("/api/v1/jobs", json={"kind": "index", "paths": [str(photos)]})
    assert_unavailable(response, "database_unavailable")
    gone.dispose()


def test_readyz_reports_each_dependency_and_caches_its_answer(app_settings, monkeypatch):
    app = create_app(app_settings())
    with app.app_context():
        engine = get_state().engine
    calls = []
    real = engine.classify
    monkeypatch.setattr(engine, "classify", lambda *a, **k: calls.append(1) or real(*a, **k))
    client = app.test_client()
    first = client.get("/readyz")
    assert first.status_code == 200, first.get_data(as_text=True)
    body = first.get_json()
    assert set(body["checks"]) == {"model", "database", "broker", "worker"}
    assert body["checks"]["model"]["ok"] is True and body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True  # the embedded broker's folders
    assert body["checks"]["worker"]["ok"] is None  # no worker on this data dir: not down
    assert body["cached"] is False
    for _ in range(5):
        again = client.get("/readyz").get_json()
        assert again["cached"] is True and again["checks"] == body["checks"]
    assert len(calls) == 1  # the model ran once for six probes


def test_readyz_without_cache_checks_every_time(app_settings, monkeypatch) -> None:
    app = create_app(app_settings(web={"ready_cache_s": 0}))
    with app.app_context():
        engine = get_state().engine
    calls = []
    real = engine.classify
    monkeypatch.setattr(engine, "classify", lambda *a, **k: calls.append(1) or real(*a, **k))
    client = app.test_client()
    for _ in range(3):
        assert client.get("/readyz").get_json()["cached"] is False
    assert len(calls) == 3


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level


def test_json_logs_are_one_object_per_line_with_the_request(
    app_settings, restore_logging, capsys
) -> None:
    from smartalbum.logs import configure_logging

    settings = app_settings(log={"format": "json"})
    configure_logging(settings)
    client = create_app(settings).test_client()
    assert client.get("/healthz?x=1").status_code == 200
    assert client.get("/api/v1/photos/999999").status_code == 404
    logging.getLogger("smartalbum.test").warning("plain %s", "record", extra={"job": "j1"})
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line parses
    requests = [r for r in records if r.get("logger") == "smartalbum.requests"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/photos/999999", 404),
    ]
    assert all(r["duration_ms"] >= 0 and r["level"] == "INFO" and r["time"] for r in requests)
    (plain,) = [r for r in records if r.get("logger") == "smartalbum.test"]
    assert plain["message"] == "plain record" and plain["job"] == "j1"


def test_text_logs_do_not_log_each_request_by_default(app_settings, restore_logging, capsys):
    from smartalbum.logs import configure_logging

    settings = app_settings()
    configure_logging(settings)
    create_app(settings).test_client().get("/healthz")
    assert "/healthz" not in capsys.readouterr().err


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_requests_latency_and_jobs(app_settings, photos: Path) -> None:
    client = create_app(app_settings()).test_client()
    key = (
        "smartalbum_http_requests_total",
        (("endpoint", "api.healthz"), ("method", "GET"), ("status", "200")),
    )
    before = _samples(client.get("/metrics").get_data(as_text=True)).get(key, 0.0)
    for _ in range(3):
        client.get("/healthz")
    client.get("/api/v1/photos/123456")  # a 404
    response = client.post("/api/v1/jobs", json={"kind": "index", "paths": [str(photos)]})
    assert response.status_code == 202
    scraped = client.get("/metrics")
    assert scraped.status_code == 200 and scraped.mimetype == "text/plain"
    samples = _samples(scraped.get_data(as_text=True))
    assert samples[key] == before + 3
    assert any(
        name == "smartalbum_http_requests_total" and ("status", "404") in labels
        for name, labels in samples
    )
    latency = ("smartalbum_http_request_duration_seconds_count", (("endpoint", "api.healthz"),))
    assert samples[latency] >= 3
    assert samples[("smartalbum_jobs", (("kind", "index"), ("status", "queued")))] == 1
    assert ("smartalbum_job_queue_depth", ()) in samples
    assert samples[("smartalbum_job_items_total", (("kind", "index"),))] == 0


def test_metrics_are_behind_the_api_key(app_settings) -> None:
    client = create_app(app_settings(web={"api_key": "s3cret"})).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"X-API-Key": "s3cret"}).status_code == 200
