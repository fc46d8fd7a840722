"""A full disk under the CLI is one line and exit 1, never a traceback (issue 16 item 3).

Simulated with a real, tiny tmpfs holding the data dir and the catalog, mounted inside a
private mount namespace (``unshare -m``: needs root, skipped elsewhere), so the catalog and
the indexer meet a genuine ENOSPC / "database or disk is full" wherever they write.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SRC = Path(__file__).resolve().parents[1] / "src"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("unshare") is None,
        reason="needs root and unshare for a private tmpfs",
    ),
]

SCRIPT = """
set -u
mount -t tmpfs -o size="$SIZE" tmpfs "$MNT" || exit 99
export SMARTALBUM_DATA_DIR="$MNT/data"
"$PY" -m smartalbum.cli index "$PHOTOS" --bundle "$BUNDLE" \
    --database-url "sqlite:///$MNT/catalog.sqlite3" >"$OUT/stdout" 2>"$OUT/stderr"
echo $? >"$OUT/rc"
if [ -f "$MNT/catalog.sqlite3" ]; then
  "$PY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(
      "pragma integrity_check").fetchone()[0])' "$MNT/catalog.sqlite3" >"$OUT/integrity"
fi
"""


def test_index_onto_a_full_disk_is_one_line(tmp_path: Path, tiny_bundle_dir: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(30):  # noise: ~140 KB each, so the catalog's writes fill the disk fast
        pixels = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(photos / f"p{i:02d}.jpg", quality=95)
    failures = []
    # Too small to create the catalog; room for the catalog but not the run's rows.
    for size in ("64k", "400k"):
        out = tmp_path / f"out-{size}"
        out.mkdir()
        mnt = tmp_path / f"mnt-{size}"
        mnt.mkdir()
        env = {
            **os.environ,
            "PYTHONPATH": str(SRC),
            "SIZE": size,
            "MNT": str(mnt),
            "OUT": str(out),
            "PY": sys.executable,
            "PHOTOS": str(photos),
            "BUNDLE": str(tiny_bundle_dir),
        }
        done = subprocess.run(["unshare", "-m", "bash", "-c", SCRIPT], env=env, timeout=300)
        if done.returncode == 99:
            pytest.skip("cannot mount a tmpfs here")
        rc = int((out / "rc").read_text())
        stderr = (out / "stderr").read_text()
        assert "Traceback" not in stderr, stderr
        if rc != 0:
            assert rc == 1, stderr  # a failure, not a usage error
            assert stderr.strip().splitlines()[-1].startswith("Error: no space left"), stderr
            failures.append(size)
        if (out / "integrity").exists():
            assert (out / "integrity").read_text().strip() == "ok"
    assert "64k" in failures  # the catalog cannot even be created
