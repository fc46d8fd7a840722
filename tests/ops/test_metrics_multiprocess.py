"""``/metrics`` under ``serve --processes 2`` (gunicorn): every process's requests are in
every scrape (prometheus_client's multiprocess mode), whichever process answers it; and
with ``SMARTALBUM_LOG__FORMAT=json`` every line gunicorn's processes write is JSON."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "smartalbum_http_requests_total" and s.labels == {
                "endpoint": "api.healthz",
                "method": "GET",
                "status": "200",
            }:
                return s.value
    return 0.0


@pytest.mark.services
def test_metrics_sum_every_server_process(tmp_path: Path, tiny_bundle_dir: Path) -> None:
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTALBUM_", "PROMETHEUS"))}
    env.update(
        SMARTALBUM_DATA_DIR=str(tmp_path / "data"),
        SMARTALBUM_MODEL__BUNDLE=str(tiny_bundle_dir),
        SMARTALBUM_WEB__RATE_LIMIT="",
        SMARTALBUM_LOG__FORMAT="json",
    )
    serve = subprocess.Popen(
        [sys.executable, "-m", "smartalbum.cli", "serve", "--port", str(port)]
        + ["--processes", "2", "--threads", "2", "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert serve.poll() is None, "serve exited"
            try:
                if requests.get(f"{base}/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.3)
        children = subprocess.run(["pgrep", "-P", str(serve.pid)], capture_output=True, text=True)
        assert len(children.stdout.split()) == 2  # two gunicorn workers
        before = _healthz_count(requests.get(f"{base}/metrics", timeout=10).text)
        assert before >= 1
        for _ in range(40):  # a new connection each: gunicorn's workers share them out
            assert requests.get(f"{base}/healthz", timeout=10, headers={"Connection": "close"}).ok
        counts = {
            _healthz_count(requests.get(f"{base}/metrics", timeout=10).text) for _ in range(6)
        }
    finally:
        serve.send_signal(signal.SIGTERM)
        _, stderr = serve.communicate(timeout=60)
    assert counts == {before + 40}  # the 40 requests, in every scrape, whoever answered it
    records = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    logged = [r for r in records if r.get("logger") == "smartalbum.requests"]
    assert sum(r["path"] == "/healthz" and r["status"] == 200 for r in logged) >= 40
    assert all(r["duration_ms"] >= 0 and r["method"] == "GET" for r in logged)
