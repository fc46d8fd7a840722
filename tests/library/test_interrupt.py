"""``smartalbum index`` killed with SIGKILL mid-way, then run again: the catalog stays right.

The subprocess indexes 150 photos in batches of 4 (one transaction each). The test waits
until some batches are committed, kills the process without warning, checks that what is
in the catalog is complete (no photo without its file, embedding and predictions), then
re-runs the command and checks that every photo is there exactly once and that the work
committed before the kill was not done again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from smartalbum.library import db
from smartalbum.library.schema import Embedding, File, Photo, Prediction

pytestmark = pytest.mark.services  # the CLI in a process of its own, killed mid-run

N_PHOTOS = 150
N_HEADS = 2  # the tiny bundle's heads: colours, strict


@pytest.fixture(scope="module")
def big_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 distinct 800x600 JPEGs (large enough that indexing them takes a few seconds)."""
    root = tmp_path_factory.mktemp("kill_library")
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, size=(600, 800, 3), dtype=np.uint8)
    for i in range(N_PHOTOS):
        image = np.roll(base, shift=i * 7, axis=1)
        image[:, :, i % 3] = np.clip(image[:, :, i % 3].astype(np.int16) + 60, 0, 255)
        folder = root / f"set{i % 5}"
        folder.mkdir(exist_ok=True)
        Image.fromarray(image).save(folder / f"p{i:03d}.jpg", quality=92)
    return root


def _index_cmd(root: Path, bundle: Path, url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "smartalbum.cli",
        "index",
        str(root),
        "--bundle",
        str(bundle),
        "--database-url",
        url,
        "--batch-size",
        "4",
        "--workers",
        "1",
        "--threads",
        "1",
        "--json",
    ]


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SMARTALBUM_DATA_DIR"] = str(tmp_path / "data")
    env.pop("SMARTALBUM_DATABASE_URL", None)
    return env


def _counts(factory) -> dict[str, int]:
    with factory() as s:
        return {
            t.__tablename__: int(s.scalar(select(func.count()).select_from(t)))
            for t in (Photo, File, Embedding, Prediction)
        }


def _assert_every_photo_complete(factory) -> None:
    """No half-written photo: each has >= 1 file, one embedding, one prediction per head."""
    with factory() as s:
        files = dict(s.execute(select(File.photo_id, func.count()).group_by(File.photo_id)).all())
        embs = dict(
            s.execute(select(Embedding.photo_id, func.count()).group_by(Embedding.photo_id)).all()
        )
        preds = dict(
            s.execute(select(Prediction.photo_id, func.count()).group_by(Prediction.photo_id)).all()
        )
        photo_ids = list(s.scalars(select(Photo.id)))
    for pid in photo_ids:
        assert files.get(pid, 0) >= 1, f"photo {pid} has no file"
        assert embs.get(pid) == 1, f"photo {pid} has {embs.get(pid)} embeddings"
        assert preds.get(pid) == N_HEADS, f"photo {pid} has {preds.get(pid)} predictions"


def test_kill_mid_run_then_resume(big_library, catalog_url, tiny_bundle_dir, tmp_path):
    engine, factory = db.open_catalog(url=catalog_url)
    cmd = _index_cmd(big_library, tiny_bundle_dir, catalog_url)
    proc = subprocess.Popen(cmd, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        committed = 0
        while time.monotonic() < deadline and proc.poll() is None:
            committed = _counts(factory)["photos"]
            if committed >= 8:  # at least two batches are in: kill it mid-way
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    out, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]

    before = _counts(factory)
    assert 8 <= before["photos"] < N_PHOTOS, "the run was not interrupted mid-way"
    assert before["files"] == before["photos"] == before["embeddings"]
    assert before["predictions"] == N_HEADS * before["photos"]
    _assert_every_photo_complete(factory)

    done = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary = json.loads(done.stdout.decode().strip().splitlines()[-1])

    after = _counts(factory)
    assert after == {
        "photos": N_PHOTOS,
        "files": N_PHOTOS,
        "embeddings": N_PHOTOS,
        "predictions": N_HEADS * N_PHOTOS,
    }
    _assert_every_photo_complete(factory)
    with factory() as s:
        paths = list(s.scalars(select(File.path)))
        shas = list(s.scalars(select(Photo.sha256)))
    assert len(set(paths)) == len(paths) == N_PHOTOS
    assert len(set(shas)) == N_PHOTOS
    assert sorted(paths) == sorted(str(p) for p in big_library.rglob("*.jpg"))
    # Work committed before the kill is not redone.
    assert summary["unchanged"] == before["files"]
    assert summary["embedded"] == N_PHOTOS - before["photos"]
    engine.dispose()
