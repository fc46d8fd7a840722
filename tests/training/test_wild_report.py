"""The per-source report of the shipped bundle on the shared ``wild`` validation photos.

Skipped when ``../shared/data`` (beside the project) is absent, as in a user's clone.
``SMARTALBUM_SHARED_DATA`` points elsewhere (a worktree whose parent has no copy).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smartalbum.model.bundle import Bundle
from smartalbum.model.engine import Engine
from smartalbum.training.data import Dataset, open_dataset
from smartalbum.training.evaluate import evaluate_engine

SHARED = Path(
    os.environ.get("SMARTALBUM_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
)
WILD = SHARED / "wild"
#: Two val sources with people, landscapes and none photos: ~150 photos, ~10 s.
SOURCES = (
    "Li-Chongyi/Zero-DCE",
    "Yorkbenno/Spatial-Pyramid-Matching-for-Scene-Classification",
    "davisking/dlib",
)

pytestmark = pytest.mark.skipif(
    not (WILD / "MANIFEST_wild.csv").is_file(), reason="../shared/data/wild is absent"
)


def test_wild_val_report_per_source():
    ds = open_dataset(WILD)
    val = [it for it in ds.split("val") if it.source in SOURCES]
    assert val and all(it.path.is_file() for it in val)
    subset = Dataset(val, ds.labels, ds.root, ds.source)
    engine = Engine(Bundle.load(), threads=2)
    result = evaluate_engine(engine, subset, "album6", split="val")
    m = result["metrics"]
    assert set(m["per_source"]) == set(SOURCES)
    assert sum(e["n"] for e in m["per_source"].values()) == m["n"]
    assert m["none"]["n"] == sum(e["none_n"] for e in m["per_source"].values()) > 0
    # the shipped model is judged on these photos: it must stay clearly useful on them
    assert m["accuracy"] >= 0.9 and m["sure_accuracy"] >= 0.95
    assert m["none"]["review_share"] >= 0.7
    assert not any(Path(x["path"]).is_absolute() for x in result["mistakes"])
