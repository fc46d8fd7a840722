#!/usr/bin/env python3
"""Smoke-test an installed Smart Album release (``make release-check`` runs it).

Run with the Python of a fresh virtual environment into which only the wheel was
installed: it checks that torch is absent, that ``smartalbum --version`` prints the
wheel's version, that ``smartalbum classify`` sorts a generated photo with the shipped
model, and that ``smartalbum serve`` starts and answers ``/healthz``. Exit 0 when all pass.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

import numpy as np
from PIL import Image

BIN = Path(sys.executable).parent


def step(name: str) -> None:
    print(f"release-check: {name}", flush=True)


def main() -> int:
    step("torch must not be installed")
    if importlib.util.find_spec("torch") is not None:
        print("torch is installed in the release environment", file=sys.stderr)
        return 1

    step("smartalbum --version")
    out = subprocess.run(
        [BIN / "smartalbum", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"  {out}")
    if out != f"smartalbum, version {version('smart-album')}":
        return 1

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SMARTALBUM_DATA_DIR": str(Path(tmp) / "data")}
        step("smartalbum classify on a generated photo")
        rng = np.random.default_rng(0)
        sky = np.linspace(90, 230, 480)[:, None, None] * np.array([0.5, 0.7, 1.0])
        img = np.clip(sky + rng.normal(0, 6, (480, 640, 3)), 0, 255).astype(np.uint8)
        photo = Path(tmp) / "photo.jpg"
        Image.fromarray(img).save(photo, quality=90)
        run = subprocess.run(
            [BIN / "smartalbum", "classify", str(photo), "--format", "json"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        result = json.loads(run.stdout.splitlines()[0])
        print(f"  {result['label']} ({result['confidence']:.2f})")

        step("smartalbum serve answers /healthz")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [BIN / "smartalbum", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**env, "SMARTALBUM_WEB__PROCESSES": "1"},
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                        print(f"  HTTP {r.status}: {r.read(200).decode(errors='replace')}")
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        print("the server did not answer", file=sys.stderr)
                        return 1
                    time.sleep(0.5)
        finally:
            server.terminate()
            server.wait(timeout=20)
    step("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
