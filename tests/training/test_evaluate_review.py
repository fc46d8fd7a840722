"""The evaluation a model choice can fail: per class, per source, review shares, ``none``.

Fast: hand-made probabilities, and a generated manifest scored through ``evaluate_engine``
with a stub engine (mean colour as the "embedding"), so no backbone runs.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from smartalbum.model.heads import Head
from smartalbum.training.data import open_dataset
from smartalbum.training.evaluate import evaluate_engine, format_evaluation
from smartalbum.training.report import format_review, review_report

from .imagegen import save_jpeg

LABELS = ["red", "green"]


def test_review_report_per_class_per_source_and_none():
    y = ["red", "red", "green", "green", "none", "none"]
    probs = np.array(
        [
            [0.9, 0.1],  # red, sure, right
            [0.4, 0.6],  # red, unsure, wrong
            [0.05, 0.95],  # green, sure, right
            [0.95, 0.05],  # green, sure, WRONG
            [0.55, 0.45],  # none: unsure -> review (good)
            [0.99, 0.01],  # none: sure -> not reviewed
        ]
    )
    src = ["a", "a", "b", "b", "a", "b"]
    m = review_report(y, probs, LABELS, threshold=0.8, sources=src)
    assert m["n"] == 4 and m["accuracy"] == pytest.approx(0.5)
    assert m["review_share"] == pytest.approx(0.25)
    assert m["sure_accuracy"] == pytest.approx(2 / 3)
    assert m["coverage"] == pytest.approx(0.75)  # classification_metrics' view agrees
    assert m["per_class"]["red"]["review_share"] == pytest.approx(0.5)
    assert m["per_class"]["red"]["sure_accuracy"] == 1.0
    assert m["per_class"]["green"]["sure_accuracy"] == pytest.approx(0.5)
    assert m["none"] == {"n": 2, "review_share": 0.5}
    a, b = m["per_source"]["a"], m["per_source"]["b"]
    assert (a["n"], a["accuracy"], a["review_share"], a["none_n"]) == (2, 0.5, 0.5, 1)
    assert a["none_review_share"] == 1.0
    assert (b["n"], b["accuracy"], b["review_share"], b["none_review_share"]) == (2, 0.5, 0.0, 0.0)
    text = format_review(m)
    assert "none photos" in text and "source" in text


def _write_manifest(root: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    colours = {"red": (220, 30, 30), "green": (30, 200, 40), "none": (128, 128, 128)}
    for split, source in (("train", "src-train"), ("val", "src-one"), ("val", "src-two")):
        for label, colour in colours.items():
            for i in range(3):
                img = np.clip(rng.normal(colour, 12, (40, 50, 3)), 0, 255).astype(np.uint8)
                rel = f"{label}/{source}_{i}.jpg"
                save_jpeg(root / rel, img)
                rows.append({"file": rel, "class": label, "split": split, "source_repo": source})
    with (root / "MANIFEST_test.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "class", "split", "source_repo"])
        w.writeheader()
        w.writerows(rows)
    return root


class _MeanColourEngine:
    """Duck-typed Engine: the 'embedding' is the photo's mean colour."""

    def __init__(self, head: Head) -> None:
        self._head = head
        self.bundle = SimpleNamespace(
            name="stub", backbone={"precision": "fp32"}, preprocess=SimpleNamespace(size=32)
        )
        self.version = "stub-1"
        self.embedding_dim = 3

    def head(self, name: str | None = None) -> Head:
        return self._head

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        return np.stack([im.reshape(-1, 3).mean(axis=0) / 255.0 for im in images])


def test_evaluate_engine_on_a_manifest_reports_sources_and_none(tmp_path: Path):
    ds = open_dataset(_write_manifest(tmp_path / "wild"))
    assert {it.source for it in ds.split("val")} == {"src-one", "src-two"}
    # red vs green by the difference of the two channels; grey sits in the middle (unsure)
    w = np.array([[8.0, -8.0], [-8.0, 8.0], [0.0, 0.0]], np.float32)
    head = Head("rg", LABELS, [w], [np.zeros(2, np.float32)], l2_normalize=False, threshold=0.9)
    result = evaluate_engine(_MeanColourEngine(head), ds, split="val")
    m = result["metrics"]
    assert m["n"] == 12 and m["accuracy"] == 1.0 and m["review_share"] == 0.0
    assert m["none"] == {"n": 6, "review_share": 1.0}
    assert set(m["per_source"]) == {"src-one", "src-two"}
    assert all(e["n"] == 6 and e["none_n"] == 3 for e in m["per_source"].values())
    assert "src-two" in format_evaluation(result)
    # nothing in the result names the machine's folders
    assert str(tmp_path) not in json.dumps(result)
