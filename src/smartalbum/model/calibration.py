"""Calibration of a head's confidence: temperature scaling and the ``uncertain`` threshold.

Numpy only (no torch), so heads taught in a serving-only install can be calibrated the
same way as the heads built by ``smartalbum train``.
"""

from __future__ import annotations

import math

import numpy as np

#: Temperatures a head may get. The floor of 1 means calibration may only *soften* a head.
#: When validation photos are (nearly) perfectly separated - typical when they come from the
#: same sources as the training photos - the NLL keeps falling as T -> 0, and a fitted
#: T << 1 makes every prediction ~100% confident, including photos of things the head has
#: never seen, so nothing would ever be marked ``uncertain``. Measured on the shared data:
#: T fell to 0.05 and out-of-domain test photos went from 0.5-0.7 confidence to 1.0.
TEMPERATURE_BOUNDS = (1.0, 20.0)


def fit_temperature(
    logits: np.ndarray, y: np.ndarray, bounds: tuple[float, float] = TEMPERATURE_BOUNDS
) -> float:
    """The temperature T in ``bounds`` minimising the NLL of softmax(logits / T) (Guo et al.,
    2017).

    A 1-D problem, solved by a log-spaced grid and golden-section refinement: deterministic,
    no optimiser state, no torch.
    """
    t_lo, t_hi = bounds
    if not 0 < t_lo <= t_hi:
        raise ValueError("temperature bounds must satisfy 0 < low <= high")
    if len(y) == 0:
        return 1.0
    z = np.asarray(logits, dtype=np.float64)

    def nll(log_t: float) -> float:
        s = z / math.exp(log_t)
        s = s - s.max(axis=1, keepdims=True)
        lse = np.log(np.exp(s).sum(axis=1))
        return float(np.mean(lse - s[np.arange(len(y)), y]))

    if t_lo == t_hi:
        return float(t_lo)
    grid = np.linspace(math.log(t_lo), math.log(t_hi), 121)
    vals = [nll(g) for g in grid]
    k = int(np.argmin(vals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    phi = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = hi - phi * (hi - lo), lo + phi * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    best = (lo + hi) / 2
    for edge in (grid[0], grid[-1]):  # an optimum at a bound is the bound itself
        if nll(edge) <= nll(best):
            best = edge
    return float(min(max(math.exp(best), t_lo), t_hi))


def choose_threshold(
    probs: np.ndarray,
    y: np.ndarray,
    *,
    target: float = 0.99,
    bounds: tuple[float, float] = (0.4, 0.9),
) -> float:
    """The ``uncertain`` threshold, chosen on validation photos.

    Rule: rank val predictions by confidence; take the lowest confidence such that the
    predictions at or above it are at least ``target`` correct (i.e. accept as many photos
    as possible while keeping accepted accuracy >= target); clip to ``bounds``. When even
    the most confident prediction misses the target, use the upper bound.
    """
    lo, hi = bounds
    if len(y) == 0:
        return hi
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    order = np.argsort(-conf, kind="stable")
    acc = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(acc >= target)[0]
    if len(ok) == 0:
        return hi
    k = int(ok[-1])
    # Everything tied with the k-th confidence is accepted as well: step over ties that
    # would break the target.
    while k >= 0:
        t = conf[order[k]]
        accepted = conf >= t
        if correct[accepted].mean() >= target:
            return float(np.clip(t, lo, hi))
        k -= 1
    return hi
