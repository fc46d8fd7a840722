"""The shipped model against photos from other sources: issue 18's figures and targets as JSON.

What `make bench` must show about the model, measured the way users get it (the shipped
bundle through the serving engine, photos decoded at the size `smartalbum classify` uses):

- ``wild_val``: per head (album6, seed3), on ``../shared/data/wild`` rows with
  ``split=val`` (13 sources no training photo comes from, never trained on): accuracy,
  macro-F1, share sent to review, accuracy among the sure ones, ECE, the ``none`` photos'
  review share, and per class and per source the same;
- ``orientation``: the eight EXIF orientations of two photos in
  ``edge_cases/orientation``: one label each? confidence spread?
- ``retrain``: ``album6`` refitted from the shipped training embeddings with no
  corrections (what `smartalbum retrain` does first) must send as many wild val photos to
  review as the shipped head, give or take a few (it once sent 75 %);
- ``targets``: each of issue 18's targets with the measured value and ``met`` — a
  validation that can fail.

Prints ``{"skipped": ...}`` when the shared data is absent. About a minute on 2 cores.
Usage: ``python bench/bench_model.py``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
DATA = BENCH.parent / ".." / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")
WILD = DATA / "wild"
ORIENTATION = DATA / "edge_cases" / "orientation"

#: Issue 18's targets on wild val with the default bundle (album6).
TARGETS = {
    "macro_f1": (">=", 0.95),
    "people_recall": (">=", 0.92),
    "review_share": ("<=", 0.08),
    "sure_accuracy": (">=", 0.985),
    "none_review_share": (">=", 0.85),
    "orientation_spread": ("<=", 0.1),
}


def _summary(metrics: dict) -> dict:
    """The figures of one review_report, rounded; per class and per source kept short."""

    def r(v: object) -> object:
        return round(float(v), 3) if isinstance(v, (int, float, np.floating)) else v

    keys = ("accuracy", "macro_f1", "review_share", "sure_accuracy", "ece")
    out = {k: r(metrics[k]) for k in keys if k in metrics}
    out["none_review_share"] = r(metrics.get("none", {}).get("review_share", 0.0))
    out["per_class"] = {
        label: {
            k: r(v)
            for k, v in row.items()
            if k in ("recall", "f1", "review_share", "sure_accuracy", "support", "n")
        }
        for label, row in metrics.get("per_class", {}).items()
    }
    out["per_source"] = {
        src: {k: r(v) for k, v in row.items() if k in ("accuracy", "review_share", "n")}
        for src, row in metrics.get("per_source", {}).items()
    }
    return out


def wild_val(engine) -> dict:
    from smartalbum.training.data import open_dataset
    from smartalbum.training.evaluate import evaluate_engine

    dataset = open_dataset(WILD)
    return {
        head: _summary(evaluate_engine(engine, dataset, head, split="val")["metrics"])
        for head in ("album6", "seed3")
    }


def orientation(engine) -> dict:
    from smartalbum.imaging import load_photo
    from smartalbum.model.pipeline import working_side

    out = {}
    for subject in ("landscape", "portrait"):
        files = [ORIENTATION / f"{subject}_{i}.jpg" for i in range(1, 9)]
        images = [load_photo(f, max_side=working_side(engine), digest=False).image for f in files]
        preds = engine.classify(images, "album6")
        conf = [round(float(p.confidence), 3) for p in preds]
        out[subject] = {
            "labels": sorted({p.label for p in preds}),
            "confidence": conf,
            "spread": round(max(conf) - min(conf), 3),
            "uncertain": sum(bool(p.uncertain) for p in preds),
        }
    return out


def retrain(engine) -> dict:
    from smartalbum.categories.builtin import refit
    from smartalbum.model import train_embeddings
    from smartalbum.training.report import review_report

    shipped = train_embeddings.load(engine.bundle)
    head = engine.head("album6")
    labels = head.labels
    scope = np.isin(shipped.val_labels, [*labels, "none"])
    x, y = shipped.val_x[scope], shipped.val_labels[scope]
    new = refit(head, shipped, shipped.x[:0], shipped.labels[:0])
    out = {}
    for name, h in (("shipped", head), ("refit", new)):
        m = review_report(y, h.probabilities(x), labels, threshold=h.threshold)
        out[name] = {
            "temperature": round(float(h.temperature), 3),
            "accuracy": round(float(m["accuracy"]), 3),
            "review_share": round(float(m["review_share"]), 3),
        }
    return out


def main() -> None:
    if not (WILD / "MANIFEST_wild.csv").is_file():
        print(json.dumps({"skipped": f"no shared data at {DATA}"}))
        return
    from smartalbum.model.bundle import Bundle
    from smartalbum.model.engine import Engine

    start = time.perf_counter()
    engine = Engine(Bundle.load(None), threads=0, blas_threads=None)
    result = {"bundle_version": engine.version, "wild_val": wild_val(engine)}
    result["orientation"] = orientation(engine)
    result["retrain"] = retrain(engine)
    album6 = result["wild_val"]["album6"]
    measured = {
        "macro_f1": album6["macro_f1"],
        "people_recall": album6["per_class"]["people"]["recall"],
        "review_share": album6["review_share"],
        "sure_accuracy": album6["sure_accuracy"],
        "none_review_share": album6["none_review_share"],
        "orientation_spread": max(o["spread"] for o in result["orientation"].values()),
    }
    result["targets"] = {
        name: {
            "target": f"{op} {goal}",
            "measured": measured[name],
            "met": bool(measured[name] >= goal if op == ">=" else measured[name] <= goal),
        }
        for name, (op, goal) in TARGETS.items()
    }
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
