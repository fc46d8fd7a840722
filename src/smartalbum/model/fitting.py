"""Heads fitted over many views from unequal sources, with "belongs to no class" examples.

:func:`smartalbum.model.heads.fit_logistic_head` balances classes only; the default
model's training photos also come from very unequal *sources* (450 street-fashion shots of
one kind beside a few dozen wild portraits), and it has photos labelled ``none`` that
should match no class. Here each photo gets a weight so that every class weighs the same
and, inside a class, a source's weight grows only with the square root of its size (a big
uniform source cannot drown a small varied one), and a ``none`` photo's target is the
uniform distribution over the head's labels: fitting pushes such photos towards low
confidence, which is what sends them to review. The fit is a weighted multinomial logistic
regression with soft targets (L-BFGS, numpy/scipy; seconds to a minute on ~15k views).

The temperature and the ``uncertain`` threshold are then chosen on the cross-source
validation photos (:func:`calibrate`), never on training photos.

It lives in the model layer (numpy/scipy, no torch) because two callers need the same
recipe: ``make train-default`` builds the shipped heads with it, and retraining a shipped
head from a user's corrections (categories/builtin.py) refits with it and recalibrates on
the validation embeddings the bundle ships, so a retrained head keeps the shipped head's
honest confidence instead of falling back to temperature 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

from smartalbum.model.calibration import choose_threshold, fit_temperature
from smartalbum.model.heads import Head

#: Labels of photos that belong to no class of a head: they should go to review.
OUT_OF_SCOPE = ("none",)

#: A temperature below 1 sharpens; allowed here because the validation set is cross-source
#: (not saturated), unlike the pool split calibration.TEMPERATURE_BOUNDS protects against.
TEMPERATURE_BOUNDS = (0.05, 20.0)

#: The fitting options of the shipped heads, chosen on wild val (docs/model.md): used by
#: ``make train-default`` and by every retrain of a shipped head from corrections.
RECIPE: dict[str, float] = {"l2": 1e-3, "source_power": 0.5, "none_weight": 4.0}


def as_head_labels(labels: Sequence[str], head_labels: Sequence[str]) -> np.ndarray:
    """``labels`` as a head sees them: a photo of another class (a pet, for seed3) belongs
    to none of its labels, so it is fitted as ``none``."""
    labels = np.asarray(labels)
    return np.where(np.isin(labels, list(head_labels)), labels, OUT_OF_SCOPE[0])


def sample_weights(
    labels: Sequence[str],
    sources: Sequence[str],
    *,
    source_power: float = 0.5,
    none_weight: float = 1.0,
) -> np.ndarray:
    """Per-row weights with mean 1: classes equal; in a class, source ``s`` of ``n_s`` rows
    weighs ``n_s ** source_power`` (1: by size, 0: every source equal); ``none`` rows
    together weigh ``none_weight`` times one class."""
    y, src = np.asarray(labels), np.asarray(sources)
    w = np.zeros(len(y), dtype=np.float64)
    for lab in np.unique(y):
        m = y == lab
        for s in np.unique(src[m]):
            ms = m & (src == s)
            w[ms] = ms.sum() ** source_power / ms.sum()
        w[m] /= w[m].sum()
        if lab in OUT_OF_SCOPE:
            w[m] *= none_weight
    return w * len(w) / max(w.sum(), 1e-12)


def soft_targets(labels: Sequence[str], head_labels: Sequence[str]) -> np.ndarray:
    """One-hot rows for the head's labels, uniform rows for anything else (``none``)."""
    index = {lab: i for i, lab in enumerate(head_labels)}
    t = np.full((len(labels), len(head_labels)), 1.0 / len(head_labels))
    for i, lab in enumerate(labels):
        if lab in index:
            t[i] = 0.0
            t[i, index[lab]] = 1.0
    return t


def fit_softmax_soft(
    x: np.ndarray, targets: np.ndarray, weights: np.ndarray, l2: float, max_iter: int = 400
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted softmax regression with soft targets and an L2 penalty ``l2 * |W|^2 / 2``
    on the mean loss. Returns (W: D x K, b: K)."""
    x = np.asarray(x, dtype=np.float64)
    d, k = x.shape[1], targets.shape[1]
    wn = weights / weights.sum()

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        wm, b = params[: d * k].reshape(d, k), params[d * k :]
        z = x @ wm + b
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = float(-(wn * (targets * logp).sum(axis=1)).sum() + 0.5 * l2 * (wm * wm).sum())
        g = (np.exp(logp) - targets) * wn[:, None]
        return value, np.concatenate([(x.T @ g + l2 * wm).ravel(), g.sum(axis=0)])

    res = minimize(
        loss, np.zeros(d * k + k), jac=True, method="L-BFGS-B", options={"maxiter": max_iter}
    )
    return res.x[: d * k].reshape(d, k).astype(np.float32), res.x[d * k :].astype(np.float32)


def fit_soft_head(
    name: str,
    head_labels: Sequence[str],
    embeddings: np.ndarray,
    labels: Sequence[str],
    sources: Sequence[str],
    *,
    l2: float = 1e-3,
    source_power: float = 0.5,
    none_weight: float = 1.0,
    concepts: dict[str, list[int]] | None = None,
    concept_fc: tuple[np.ndarray, np.ndarray] | None = None,
    concept_scale: float = 0.1,
    description: str = "",
    row_weights: np.ndarray | None = None,
    l2_normalize: bool = True,
) -> Head:
    """A linear head over (L2-normalised embedding [+ concept scores]) fitted on rows of
    the head's labels and of ``none``; rows of other labels are left out. ``row_weights``
    multiply the balanced weights (a user's corrections count more than shipped photos)."""
    labels = np.asarray(labels)
    keep = np.isin(labels, list(head_labels)) | np.isin(labels, list(OUT_OF_SCOPE))
    n_features = embeddings.shape[1] + (len(concepts) if concepts else 0)
    head = Head(
        name=name,
        labels=list(head_labels),
        weights=[np.zeros((n_features, len(head_labels)), np.float32)],
        biases=[np.zeros(len(head_labels), np.float32)],
        concepts=concepts,
        concept_fc=concept_fc,
        concept_scale=concept_scale,
        description=description,
        l2_normalize=l2_normalize,
    )
    x = head.features(np.asarray(embeddings, dtype=np.float32)[keep])
    w = sample_weights(
        labels[keep], np.asarray(sources)[keep], source_power=source_power, none_weight=none_weight
    )
    if row_weights is not None:
        w = w * np.asarray(row_weights, dtype=np.float64)[keep]
    wm, b = fit_softmax_soft(x, soft_targets(labels[keep], head_labels), w, l2)
    head.weights, head.biases = [wm], [b]
    return head


def none_threshold(conf: np.ndarray, share: float) -> float:
    """The lowest threshold that sends at least ``share`` of these confidences to review."""
    if len(conf) == 0 or share <= 0:
        return 0.0
    k = int(np.ceil(share * len(conf)))
    return float(np.sort(conf)[min(k, len(conf)) - 1]) + 1e-6


def calibrate(
    head: Head,
    embeddings: np.ndarray,
    labels: Sequence[str],
    *,
    target: float = 0.985,
    none_target: float = 0.85,
    bounds: tuple[float, float] = (0.3, 0.95),
) -> Head:
    """Set the head's temperature (NLL on the in-scope validation photos) and its threshold:
    the lowest confidence at which the photos kept are ``target`` right and at least
    ``none_target`` of the ``none`` photos are sent to review (within ``bounds``)."""
    labels = np.asarray(labels)
    emb = np.asarray(embeddings, dtype=np.float32)
    inside = np.isin(labels, head.labels)
    outside = np.isin(labels, list(OUT_OF_SCOPE))
    index = {lab: i for i, lab in enumerate(head.labels)}
    y = np.asarray([index[lab] for lab in labels[inside]])
    head.temperature = 1.0
    head.temperature = fit_temperature(head.logits(emb[inside]), y, TEMPERATURE_BOUNDS)
    probs = head.probabilities(emb[inside])
    sure = choose_threshold(probs, y, target=target, bounds=bounds)
    none = none_threshold(head.probabilities(emb[outside]).max(axis=1), none_target)
    head.threshold = float(np.clip(max(sure, none), *bounds))
    return head
