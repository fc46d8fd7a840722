"""Serving with waitress, and the ``serve`` command."""

from __future__ import annotations

import io
import os
import threading
import time

import click
import pytest
import requests
from click.testing import CliRunner

from smartalbum.cli import main
from smartalbum.model.bundle import BundleError
from smartalbum.web import server as server_mod
from smartalbum.web.server import serve, server_url


def test_live_server_classifies_over_http(live_server, photo) -> None:
    resp = requests.post(
        f"{live_server}/api/v1/classify",
        files=[
            ("file", ("a.jpg", photo("blue"), "image/jpeg")),
            ("file", ("b.png", photo("green", fmt="PNG"), "image/png")),
        ],
        timeout=30,
    )
    assert resp.status_code == 200
    assert [r["label"] for r in resp.json()["results"]] == ["blue", "green"]
    assert resp.headers["Server"] == "smartalbum"


def test_live_server_refuses_a_body_over_the_limit_as_a_problem(start_server) -> None:
    url = start_server(max_upload_mb=0.1) + "/api/v1/classify"
    resp = requests.post(url, files={"file": ("big.jpg", b"x" * 300_000)}, timeout=30)
    assert resp.status_code == 413
    assert resp.headers["Content-Type"] == "application/problem+json"


def test_serve_prints_the_url_and_serves_until_closed(make_settings, capsys, monkeypatch):
    made = []
    real = server_mod.make_server

    def capture(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(server_mod, "make_server", capture)
    thread = threading.Thread(
        target=serve,
        args=(make_settings(),),
        kwargs={"port": 0, "threads": 2, "processes": 1},
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not made and time.monotonic() < deadline:
        time.sleep(0.05)
    (server,) = made
    port = server.effective_port
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json() == {"status": "ok"}
    server.close()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert f"Smart Album is running at http://127.0.0.1:{port}/" in capsys.readouterr().out


def test_server_url_for_ipv6_and_multiple_sockets() -> None:
    class Multi:
        effective_listen = [("::1", 5001), ("127.0.0.1", 5001)]

    assert server_url(Multi(), "localhost") == "http://localhost:5001/"
    assert server_url(Multi(), "::1") == "http://[::1]:5001/"


@pytest.fixture
def cli() -> click.Group:
    return main


def test_serve_command_options(cli, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(server_mod, "serve", lambda settings, **kw: calls.append(kw))
    result = CliRunner().invoke(
        cli, ["serve", "--port", "8080", "--threads", "3", "--processes", "2"]
    )
    assert result.exit_code == 0, result.output
    assert calls == [
        {"host": "127.0.0.1", "port": 8080, "threads": 3, "processes": 2, "worker": True}
    ]
    help_text = CliRunner().invoke(cli, ["serve", "--help"]).output
    for option in ("--host", "--port", "--threads", "--processes"):
        assert option in help_text


def test_serve_command_reports_a_bad_bundle_without_a_traceback(cli, monkeypatch) -> None:
    def fail(settings, **kw):
        raise BundleError("/nowhere is not a model bundle (no bundle.json)")

    monkeypatch.setattr(server_mod, "serve", fail)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "cannot start" in result.output and "Traceback" not in result.output


def test_serve_command_reports_a_busy_port(cli, monkeypatch) -> None:
    def fail(settings, **kw):
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(server_mod, "serve", fail)
    result = CliRunner().invoke(cli, ["serve", "--port", "5000"])
    assert result.exit_code == 1 and "Address already in use" in result.output


def test_the_main_cli_has_the_serve_command() -> None:
    cli_mod = pytest.importorskip("smartalbum.cli")
    ctx = click.Context(cli_mod.main)
    assert "serve" in cli_mod.main.list_commands(ctx)
    assert cli_mod.main.get_command(ctx, "serve").name == "serve"


@pytest.mark.services
def test_serve_with_several_processes_runs_gunicorn_workers(tmp_path, photo, tiny_bundle_dir) -> None:
    """`smartalbum serve --processes 2`: one engine per worker process, one port."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SMARTALBUM_MODEL__BUNDLE": str(tiny_bundle_dir),
           "SMARTALBUM_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartalbum.cli", "serve", "--port", str(port),
         "--processes", "2", "--threads", "2", "--no-worker"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        for _ in range(4):  # whichever worker answers, it has its own loaded engine
            resp = requests.post(f"{base}/api/v1/classify",
                                 files={"file": ("r.jpg", photo("red"), "image/jpeg")},
                                 timeout=30)
            assert resp.status_code == 200
            assert resp.json()["results"][0]["label"] == "red"
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert f"Smart Album is running at http://127.0.0.1:{port}/ (2 processes x 2 threads)" in out


class _CountingInput(io.BytesIO):
    """A request body that records the sizes it was asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.asked.append(size)
        return super().read(size)


def _through_whole_body_reader(body: bytes, length: str | None, max_bytes: int):
    seen: dict[str, object] = {}

    def app(environ, start_response):
        seen["input"] = environ["wsgi.input"]
        seen["body"] = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b""]

    original = _CountingInput(body)
    environ = {"wsgi.input": original}
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    server_mod.WholeBodyReader(app, max_bytes)(environ, lambda *a: None)
    return original, seen


def test_whole_body_reader_reads_an_allowed_body_in_one_call() -> None:
    body = os.urandom(300_000)
    original, seen = _through_whole_body_reader(body, str(len(body)), max_bytes=1_000_000)
    assert original.asked[0] == len(body)  # one read of the whole body
    assert seen["input"] is not original
    assert seen["body"] == body


@pytest.mark.parametrize("length", ["2000000", None, "", "twelve", "-5"])
def test_whole_body_reader_leaves_other_bodies_to_the_app(length) -> None:
    """Over the limit (the app answers 413 from Content-Length, unread), unknown or bad."""
    original, seen = _through_whole_body_reader(b"x" * 10, length, max_bytes=1_000_000)
    assert seen["input"] is original
    assert original.asked == [-1]  # only the app's own read


def test_keep_freed_memory_sets_glibc_malloc_options(monkeypatch) -> None:
    import platform

    calls: list[tuple[int, int]] = []

    class FakeLibc:
        def mallopt(self, param: int, value: int) -> int:
            calls.append((param, value))
            return 1

    monkeypatch.setattr(server_mod.ctypes, "CDLL", lambda name: FakeLibc())
    assert server_mod.keep_freed_memory(mmap_threshold=1 << 20, trim_threshold=1 << 22)
    assert calls == [(-3, 1 << 20), (-1, 1 << 22)]

    def no_glibc(name: str):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(server_mod.ctypes, "CDLL", no_glibc)
    assert server_mod.keep_freed_memory() is False
    monkeypatch.undo()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert server_mod.keep_freed_memory()  # the real call is accepted
