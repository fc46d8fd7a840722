"""Metrics against hand-checked small examples; plots and the terminal table (no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smartalbum.model.calibration import choose_threshold, fit_temperature
from smartalbum.training.report import (
    classification_metrics,
    expected_calibration_error,
    format_report,
    plot_confusion,
    plot_curves,
)

LABELS = ["a", "b", "c"]


def _probs(pred: list[int], conf: float) -> np.ndarray:
    """Rows whose argmax is ``pred`` with confidence ``conf``, the rest split evenly."""
    p = np.full((len(pred), 3), (1 - conf) / 2)
    p[np.arange(len(pred)), pred] = conf
    return p


def test_metrics_on_a_hand_checked_confusion_matrix():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0]
    m = classification_metrics(y_true, _probs(y_pred, 0.9), LABELS)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    pc = m["per_class"]
    assert (pc["a"]["precision"], pc["a"]["recall"]) == pytest.approx((1 / 2, 1 / 2))
    assert (pc["b"]["precision"], pc["b"]["recall"]) == pytest.approx((2 / 3, 1.0))
    assert (pc["c"]["precision"], pc["c"]["recall"]) == pytest.approx((1.0, 1 / 2))
    assert pc["b"]["f1"] == pytest.approx(0.8)
    assert pc["c"]["f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert [pc[k]["support"] for k in LABELS] == [2, 2, 2]
    # every confidence is 0.9 and 4/6 are right: ECE = |0.9 - 2/3|
    assert m["ece"] == pytest.approx(0.9 - 4 / 6)
    # label names work as well as indices
    named = classification_metrics(["a", "a", "b", "b", "c", "c"], _probs(y_pred, 0.9), LABELS)
    assert named["confusion"] == m["confusion"]


def test_threshold_coverage_and_absent_classes():
    probs = np.vstack([_probs([0, 1], 0.95), _probs([1, 0], 0.5)])
    m = classification_metrics([0, 1, 0, 0], probs, LABELS, threshold=0.9)
    assert m["coverage"] == 0.5 and m["accepted_accuracy"] == 1.0
    assert m["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    # macro-F1 averages only classes that occur
    f1a, f1b = m["per_class"]["a"]["f1"], m["per_class"]["b"]["f1"]
    assert m["macro_f1"] == pytest.approx((f1a + f1b) / 2)


def test_ece_of_a_perfectly_calibrated_split_is_zero():
    probs = np.vstack([_probs([0, 0], 0.5), _probs([1, 1], 1.0)])
    assert expected_calibration_error(np.array([0, 1, 1, 1]), probs) == pytest.approx(0.0)


def test_metrics_reject_bad_shapes_and_unknown_labels():
    with pytest.raises(ValueError):
        classification_metrics([0, 1], np.ones((2, 2)), LABELS)
    with pytest.raises(ValueError, match="'z'"):
        classification_metrics(["z"], np.ones((1, 3)) / 3, LABELS)


def test_format_report_is_a_readable_table():
    m = classification_metrics([0, 1, 2], _probs([0, 1, 1], 0.8), LABELS, threshold=0.5)
    text = format_report(m, title="demo")
    assert text.splitlines()[0] == "demo"
    assert "accuracy   0.667  (3 photos)" in text
    for lab in LABELS:
        assert lab in text
    assert "confusion (rows: true, columns: predicted)" in text


@pytest.mark.train  # matplotlib: the train extra
def test_plots_write_pngs(tmp_path: Path):
    pytest.importorskip("matplotlib")
    cm = plot_confusion([[3, 1], [0, 4]], ["x", "y"], tmp_path / "r" / "cm.png")
    hist = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_acc": 0.5 + e / 20,
             "val_acc": 0.4 + e / 20, "best": e == 3} for e in range(1, 5)]
    curves = plot_curves(hist, tmp_path / "curves.png", title="t")
    for p in (cm, curves):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_temperature_recovers_a_known_scale():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, (4000, 4))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in p])
    # logits three times too confident: the fitted temperature undoes it
    assert fit_temperature(3 * z, y) == pytest.approx(3.0, rel=0.1)
    # under-confident logits could be sharpened, but only when the bounds allow it
    assert fit_temperature(z / 2, y, bounds=(0.1, 10)) == pytest.approx(0.5, rel=0.1)
    assert fit_temperature(z / 2, y) == 1.0


def test_temperature_never_collapses_on_separable_validation():
    z = np.array([[4.0, 0.0], [0.0, 5.0], [3.0, 1.0]])
    y = np.array([0, 1, 0])
    # every prediction is right: NLL only falls as T -> 0; the floor keeps T at 1
    assert fit_temperature(z, y) == 1.0
    assert fit_temperature(z, y, bounds=(0.05, 20)) < 0.06


def test_threshold_rule():
    # confidences 0.95..0.5; the two least confident predictions are wrong
    conf = np.array([0.95, 0.9, 0.85, 0.8, 0.6, 0.5])
    probs = np.stack([conf, 1 - conf], axis=1)
    y = np.array([0, 0, 0, 0, 1, 1])
    assert choose_threshold(probs, y, target=0.99, bounds=(0.4, 0.9)) == pytest.approx(0.8)
    assert choose_threshold(probs, y, target=0.99, bounds=(0.85, 0.9)) == pytest.approx(0.85)
    wrong = np.array([1, 0, 0, 0, 1, 1])  # the most confident one is wrong
    assert choose_threshold(probs, wrong, target=0.99, bounds=(0.4, 0.9)) == 0.9
