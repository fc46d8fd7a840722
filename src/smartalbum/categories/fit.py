"""Few-shot heads over stored embeddings: a centred prototype with a positive-unlabelled cut.

numpy/scipy only (scikit-learn is a training extra), so teaching works in a serving-only
install. The result is a plain :class:`smartalbum.model.heads.Head` with labels
``["other", NAME]`` (so it exports, versions and evaluates like any head).

**The method** (:func:`fit_prototype_head`, chosen on bench/bench_teach.py; figures in
docs/benchmarks.md). The user's other photos are *unlabelled*, not negatives: some of them
belong to the category. So nothing is fitted against them; they only say two things:

1. where "a typical photo of this library" is: embeddings are L2-normalised and centred on
   the library's mean, which removes what every photo shares (lighting, the camera, the
   backbone's bias) and leaves what the examples share. The category's direction is the
   examples' mean in that space (minus half the counter-examples' mean, when given).
   Then it is contrasted with its near neighbours: the photos ranked just under a first
   cut (as many as it claims, at least a tenth of the sample: the other dishes under a
   dish) act as implicit counter-examples, and 0.7 of their mean is subtracted
   (:func:`near_band`), so what the examples share with their whole kind leaves the
   direction (with counter-examples, their pull and the band's are mixed 0.3 / 0.7).
   Skipped when the first cut already stands in a wide gap;
2. how far down the ranking the category goes. Each example is scored by the prototype of
   the *other* examples (leave-one-out): that is how an unlabelled photo of the category
   scores. With those scores as a model of the category's recall at each cut, and the
   library's scores as what a cut claims, the category's size is estimated the
   positive-unlabelled way (size = claimed / recall, smallest where precision is still
   whole), and the cut maximises the F1 that size implies (:func:`pu_threshold`). A
   counter-example always falls outside.
3. where the category ends, when the library shows it: a category apart from the rest
   (forests, cats) is a bump of scores with a valley under it, and five examples' scores
   model it too narrowly, so the cut moves down to that valley (:func:`density_valley`;
   forests 0.85 -> 0.93 F1, cats 0.86 -> 0.94, nothing else moved).

The logit is ``(score - cut) / spread`` (spread: the leave-one-out scores' deviation), so
P = 0.5 at the cut and the "label these next" queue asks about photos near it. Measured
on the benchmark (5 examples, no counter-examples) it claims 6 % of the library where
the logistic head below claimed 13 %, at mean F1 0.50 instead of 0.44; the near-neighbour
contrast took the tuned sub-categories to 0.53 and the held-out ones from 0.47 to 0.54.

The earlier logistic head (:func:`_fit_category_head` without unlabelled photos: positives
against counter-examples and a background sample, Platt-calibrated, threshold from
cross-validated F1) is kept for data without unlabelled photos (tests, old callers).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm

from smartalbum.categories.errors import NotEnoughExamples
from smartalbum.model.heads import Head, l2_normalize

OTHER = "other"
MIN_POSITIVES = 2
#: Weight of one explicit counter-example relative to one background photo.
NEGATIVE_WEIGHT = 3.0
#: Weight of a pseudo-label relative to a user's label (pseudo.py).
PSEUDO_WEIGHT = 0.5
DEFAULT_L2 = 1e-3
THRESHOLD_RANGE = (0.3, 0.95)
#: Share of cross-validated positives the threshold must keep.
RECALL_FLOOR = 0.8
#: Counter-examples pull the prototype away from their mean by up to this share: by
#: n_neg / (n_neg + n_pos) of it, so one counter-example nudges, many steer.
COUNTER_PULL = 1.0
#: The size estimate only trusts cuts that keep at least this modelled recall.
PU_MIN_RECALL = 0.3
#: Floor of the leave-one-out spread (cosine units): two near-identical examples would
#: otherwise make the cut, and the probabilities, infinitely sharp.
MIN_SPREAD = 0.04
#: The near neighbours' mean is subtracted from the prototype at this weight (0.5 to 0.85
#: measured within 0.01 of each other; 1.0 and 0.3 lower).
NEAR_PULL = 0.7
#: The near band: at least this share of the unlabelled sample under the first cut.
NEAR_BAND = 0.1
#: Density valley under the cut (:func:`density_valley`), in units of the examples' spread:
#: kernel width, how far under the cut to look, how low the valley must be against the
#: category's bump. Kernel widths 0.25 / 0.5 measured: forest 0.90 / 0.87 (0.35: 0.93).
VALLEY_BANDWIDTH = 0.35
VALLEY_REACH = 4.0
VALLEY_DEPTH = 0.5
#: Under this many unlabelled photos a density has too few photos to show a valley: in a
#: 187-photo library (12 dogs) one appeared between single photos and doubled what "dogs"
#: claimed (F1 0.71 -> 0.68); bench_teach.py's first_hour scenarios.
VALLEY_MIN_PHOTOS = 300


@dataclass
class Labelled:
    """Training data: embeddings, 0/1 labels, per-row weights before class balancing, and
    optionally the library's *unlabelled* photos (a sample), which the prototype method
    uses as unlabelled rather than as negatives."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    unlabelled: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        positives: np.ndarray,
        negatives: np.ndarray,
        background: np.ndarray | None = None,
        *,
        negative_weight: float = NEGATIVE_WEIGHT,
        unlabelled: np.ndarray | None = None,
    ) -> Labelled:
        parts = [positives, negatives]
        ys = [np.ones(len(positives)), np.zeros(len(negatives))]
        ws = [np.ones(len(positives)), np.full(len(negatives), negative_weight)]
        if background is not None and len(background):
            parts.append(background)
            ys.append(np.zeros(len(background)))
            ws.append(np.ones(len(background)))
        dim = next((p.shape[1] for p in parts if p.ndim == 2 and len(p)), 0)
        if not dim and unlabelled is not None and np.ndim(unlabelled) == 2:
            dim = np.shape(unlabelled)[1]  # no examples at all: the fit says so (422)
        rows = [p.reshape(-1, dim) if len(p) else np.zeros((0, dim), np.float32) for p in parts]
        x = np.concatenate(rows).astype(np.float32)
        u = None
        if unlabelled is not None:
            u = np.asarray(unlabelled, np.float32)
            u = u.reshape(-1, dim) if u.size else np.zeros((0, dim), np.float32)
        return cls(x, np.concatenate(ys), np.concatenate(ws), u)

    def extend(self, other: Labelled) -> Labelled:
        """These rows and ``other``'s (the unlabelled sample stays this one's)."""
        return Labelled(
            np.concatenate([self.x, other.x]),
            np.concatenate([self.y, other.y]),
            np.concatenate([self.w, other.w]),
            self.unlabelled,
        )


def _balanced(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Row weights scaled so each class sums to 1 (a 5-vs-500 problem stays balanced)."""
    out = w.astype(np.float64).copy()
    for cls in (0, 1):
        mask = y == cls
        total = out[mask].sum()
        if total > 0:
            out[mask] /= total
    return out


def logistic(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    l2: float = DEFAULT_L2,
    init: np.ndarray | None = None,
):
    """Weighted L2-regularised logistic regression (L-BFGS); returns (coef, bias).

    ``init`` (coef then bias) warm-starts the solver: the cross-validation folds start
    from the full fit, which is close, and converge in a fraction of the iterations.
    """
    x = x.astype(np.float64)
    sw = _balanced(y, w)

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        coef, bias = params[:-1], params[-1]
        z = x @ coef + bias
        # log(1 + exp(-s z)) computed stably, s = +-1
        s = 2 * y - 1
        m = -s * z
        lse = np.logaddexp(0, m)
        sig = np.exp(m - lse)  # sigmoid(m)
        value = float(sw @ lse + 0.5 * l2 * coef @ coef)
        g = -(sw * s * sig)
        grad = np.concatenate([x.T @ g + l2 * coef, [g.sum()]])
        return value, grad

    start = np.zeros(x.shape[1] + 1) if init is None else np.asarray(init, np.float64)
    res = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[:-1], float(res.x[-1])


@contextmanager
def single_thread_blas() -> Iterator[None]:
    """Run the solver's small matrix-vector products on one BLAS thread.

    Measured on the 2-core machine under load: one category fit took 28 ms with one
    OpenBLAS thread and 680 ms with two (threads spinning against each other on 450 x 1280
    products). ``threadpoolctl`` is used when installed; otherwise set
    ``OPENBLAS_NUM_THREADS=1`` for the server and workers.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _features(x: np.ndarray) -> np.ndarray:
    return l2_normalize(np.asarray(x, dtype=np.float32))


def _folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Stratified fold index per row."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % k
    return fold


def _platt(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Fit p = sigmoid(a z + b) on held-out scores; a is kept positive (a ranking never flips)."""
    a, b = logistic(z[:, None], y, w, l2=1e-4)
    a = float(a[0])
    if not np.isfinite(a) or a <= 0:
        return 1.0, 0.0
    return a, b


def best_threshold(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """The probability cut that maximises weighted F1 (class-balanced weights)."""
    sw = _balanced(y, w)
    best, best_f1 = 0.5, -1.0
    for t in np.linspace(*THRESHOLD_RANGE, 66):
        pred = p >= t
        tp = sw[(y == 1) & pred].sum()
        fp = sw[(y == 0) & pred].sum()
        fn = sw[(y == 1) & ~pred].sum()
        f1 = 2 * tp / max(2 * tp + fp + fn, 1e-12)
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(t), f1
    return best


def _fit_category_head(
    name: str,
    data: Labelled,
    *,
    l2: float = DEFAULT_L2,
    folds: int = 4,
    seed: int = 0,
    description: str = "",
) -> Head:
    """A calibrated one-vs-rest head for ``name`` (labels ``["other", name]``).

    Raises :class:`NotEnoughExamples` with fewer than 2 positives or no negatives at all.
    """
    n_pos = int((data.y == 1).sum())
    n_neg = int((data.y == 0).sum())
    if n_pos < MIN_POSITIVES:
        raise NotEnoughExamples(
            f"category {name!r} needs at least {MIN_POSITIVES} examples (has {n_pos})"
        )
    if n_neg < 1:
        raise NotEnoughExamples(
            f"category {name!r} needs counter-examples or other photos in the catalog"
        )
    x = _features(data.x)
    coef, bias = logistic(x, data.y, data.w, l2)
    a, b = 1.0, 0.0
    threshold = 0.5
    k = min(folds, n_pos, n_neg)
    cv_metrics: dict[str, float] = {}
    if k >= 2:
        fold = _folds(data.y, k, seed)
        z = np.empty(len(data.y))
        for f in range(k):
            tr, te = fold != f, fold == f
            c, bb = logistic(x[tr], data.y[tr], data.w[tr], l2, init=np.append(coef, bias))
            z[te] = x[te] @ c + bb
        a, b = _platt(z, data.y, data.w)
        p = 1 / (1 + np.exp(-(a * z + b)))
        threshold = best_threshold(p, data.y, data.w)
        # The background holds unlabelled photos of the category too, which makes F1 favour
        # a too-high cut; never cut off more than RECALL_FLOOR of the held-out positives.
        floor = float(np.quantile(p[data.y == 1], 1 - RECALL_FLOOR))
        # Platt scaling on class-balanced data puts the even-odds point at 0.5: a cut above
        # it would trust the background's "negatives" more than the user's examples.
        threshold = float(np.clip(min(threshold, floor, 0.5), *THRESHOLD_RANGE))
        cv_metrics = binary_metrics(p, data.y, threshold)
    metrics = {
        "positives": n_pos,
        "negatives": n_neg,
        "folds": k if k >= 2 else 0,
        "cv": cv_metrics,
        "l2": l2,
    }
    return binary_head(name, a * coef, a * bias + b, float(threshold), description, metrics)


def binary_head(
    name: str,
    coef: np.ndarray,
    bias: float,
    threshold: float,
    description: str,
    metrics: dict[str, Any],
) -> Head:
    """A ``["other", name]`` head whose logit is ``coef . x/|x| + bias``, in two-logit
    form: softmax([-z/2, z/2]) = [1 - sigmoid(z), sigmoid(z)]."""
    weight = np.stack([-coef / 2, coef / 2], axis=1).astype(np.float32)
    biases = np.array([-bias / 2, bias / 2], dtype=np.float32)
    return Head(
        name=name,
        labels=[OTHER, name],
        weights=[weight],
        biases=[biases],
        l2_normalize=True,
        temperature=1.0,
        threshold=threshold,
        description=description,
        metrics=metrics,
    )


def pu_threshold(
    unlabelled: np.ndarray, loo: np.ndarray, *, min_recall: float = PU_MIN_RECALL
) -> tuple[float, float, float]:
    """(cut, estimated category size in ``unlabelled``, modelled recall at the cut).

    ``loo`` are the examples' leave-one-out scores: how an unlabelled photo of the
    category scores. Recall at a cut t is modelled as P(normal(mean, sd of loo) >= t).
    A cut claiming N(t) photos then holds at most N(t) of the category and at least
    recall(t) x size, so size <= N(t) / recall(t) for every t; the smallest such bound
    (over cuts whose recall is trusted) is the estimate, and the cut maximises the F1 it
    implies: 2 recall size / (N + size).
    """
    order = np.sort(np.asarray(unlabelled, np.float64))[::-1]
    if len(order) == 0:
        return float(np.min(loo)), 0.0, 1.0
    mu = float(np.mean(loo))
    sd = loo_spread(loo)
    claimed = np.arange(1, len(order) + 1, dtype=np.float64)
    recall = norm.sf((order - mu) / sd)
    trusted = recall >= min_recall
    size = float(np.min(claimed[trusted] / recall[trusted])) if trusted.any() else len(order)
    f1 = 2 * recall * size / (claimed + size)
    best = int(np.argmax(f1))
    # A small library can show its category as a block with a gap under it (16 red
    # photos, then nothing like them): the normal model's thin tail would cut inside the
    # block, so the cut goes down to the widest gap wider than the spread, if one lies
    # within 3 deviations of the examples' mean.
    below = order[best:]
    gaps = below[:-1] - below[1:]
    wide = np.flatnonzero((gaps > sd) & (below[:-1] >= mu - 3 * sd))
    if len(wide):
        best += int(wide[np.argmax(gaps[wide])])
    return float(order[best]), size, float(recall[best])


def density_valley(
    scores: np.ndarray,
    cut: float,
    sd: float,
    *,
    bandwidth: float = VALLEY_BANDWIDTH,
    reach: float = VALLEY_REACH,
    depth: float = VALLEY_DEPTH,
) -> float | None:
    """The score of the nearest clear valley under ``cut`` in the scores' density, if any.

    The density is a Gaussian kernel estimate (``bandwidth`` x ``sd`` wide) on a grid from
    ``reach`` deviations under the cut to 2 above it. A valley counts when it is a local
    minimum lower than ``depth`` x the density's peak above the cut, and the density rises
    again under it (1.5 x): the category's own bump, then the rest of the library. Where
    the category blends into its kind (dishes, dogs among pets) there is no such valley and
    the cut stays; nor under ``VALLEY_MIN_PHOTOS`` scores, too few for a density. Measured on bench_teach.py (5 examples): forest F1 0.85 -> 0.93, cats
    0.86 -> 0.94; no other sub-category moved (docs/benchmarks.md).
    """
    if len(scores) < VALLEY_MIN_PHOTOS:  # too few for a density: the gap rule reads them
        return None
    grid = cut + sd * np.linspace(-reach, 2.0, 121)
    h = bandwidth * sd
    density = np.exp(-0.5 * ((grid[:, None] - scores[None, :]) / h) ** 2).sum(axis=1)
    above = density[grid >= cut]
    if not len(above):
        return None
    peak = float(above.max())
    under = np.flatnonzero(grid < cut)
    for i in under[1:-1][::-1]:  # nearest to the cut first
        local_minimum = density[i] <= density[i - 1] and density[i] <= density[i + 1]
        if local_minimum and density[i] < depth * peak and density[:i].max() > 1.5 * density[i]:
            return float(grid[i])
    return None


def loo_spread(loo: np.ndarray) -> float:
    """The modelled deviation of the category's scores: the leave-one-out scores' own
    (widening it was measured: more precision, much less recall, lower F1), floored."""
    sd = float(np.std(loo, ddof=1)) if len(loo) > 1 else 0.0
    return max(sd, MIN_SPREAD)


def counter_cut(negatives: np.ndarray, mu: float, sd: float) -> float:
    """The cut with the least balanced error between the counter-examples' scores (as
    they are) and the examples' modelled leave-one-out scores (normal(mu, sd)): one stray
    counter-example deep inside the category does not cut half of it away."""
    grid = np.concatenate([np.sort(negatives) + 1e-6, [mu - 3 * sd]])
    missed = norm.cdf((grid - mu) / sd)
    let_in = (negatives[None, :] >= grid[:, None]).mean(axis=1)
    return float(grid[int(np.argmin(missed + let_in))])


def _weighted_mean(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (w[:, None] * x).sum(axis=0) / max(float(w.sum()), 1e-12)


def _direction_and_cut(
    pos: np.ndarray,
    wp: np.ndarray,
    neg: np.ndarray,
    unl: np.ndarray,
    pull: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float]:
    """(direction d, the examples' leave-one-out scores, the unlabelled scores, cut, size,
    modelled recall) for the centred prototype pulled by ``pull`` (all rows centred)."""
    total = (wp[:, None] * pos).sum(axis=0)
    d = total / wp.sum() - pull
    u = d / max(float(np.linalg.norm(d)), 1e-12)
    # leave-one-out: each example scored by the prototype of the others (all at once: the
    # others' mean is the total minus the example, so thousands of labels stay O(n d)).
    # Dividing by the whole prototype's norm instead (an n - 1 prototype is noisier, so
    # longer) was measured: +0.01 F1 with 5 examples, -0.02 with 3, and a thinner spread
    # that cut inside a well-separated block; not kept.
    others = (total[None, :] - wp[:, None] * pos) / np.maximum(wp.sum() - wp, 1e-12)[:, None]
    others = others - pull
    norms = np.maximum(np.linalg.norm(others, axis=1), 1e-12)
    loo = np.einsum("ij,ij->i", pos, others) / norms
    z_unl = unl @ u if len(unl) else np.zeros(0)
    cut, size, recall = pu_threshold(z_unl, loo)
    if len(neg):  # counter-examples: never cut below where they outnumber the examples
        cut = max(cut, counter_cut(neg @ u, float(np.mean(loo)), loo_spread(loo)))
    return d, loo, z_unl, cut, size, recall


def near_band(z_unl: np.ndarray, cut: float, *, width: float = NEAR_BAND) -> np.ndarray:
    """Indices of the unlabelled photos ranked just under ``cut``: as many as the cut
    claims, at least ``width`` of the sample. The category's near neighbours (the other
    dishes under a dish, the other landscapes under glaciers): what it must be told from.
    A large category (buildings, a fifth of the library) has members of its own in it and
    loses recall (0.83 -> 0.76); twice as wide a band kept it, but took a category taught
    with counter-examples in a small library past its neighbours, to the far kinds, and
    starting the band below a margin cost the mean 0.01 (docs/benchmarks.md)."""
    order = np.argsort(-z_unl, kind="stable")
    claimed = int((z_unl >= cut).sum())
    return order[claimed : claimed + max(claimed, int(width * len(z_unl)))]


def fit_prototype_head(name: str, data: Labelled, *, description: str = "") -> Head:
    """The few-shot head of the module doc: a centred prototype contrasted with its near
    neighbours, its cut from the unlabelled sample ``data.unlabelled``. Needs 2 positives
    (raises otherwise)."""
    pos_mask = data.y == 1
    n_pos, n_neg = int(pos_mask.sum()), int((~pos_mask).sum())
    if n_pos < MIN_POSITIVES:
        raise NotEnoughExamples(
            f"category {name!r} needs at least {MIN_POSITIVES} examples (has {n_pos})"
        )
    unl = _features(data.unlabelled if data.unlabelled is not None else data.x[:0])
    x = _features(data.x)
    labelled_centre = x.mean(axis=0)
    centre = unl.mean(axis=0) if len(unl) else labelled_centre
    unl = unl - centre
    pos, wp = x[pos_mask] - centre, data.w[pos_mask].astype(np.float64)
    neg, wn = x[~pos_mask] - centre, data.w[~pos_mask].astype(np.float64)
    share = float(wn.sum()) / float(wn.sum() + wp.sum()) if n_neg else 0.0
    pull = COUNTER_PULL * share * _weighted_mean(neg, wn) if n_neg else 0.0

    d, loo, z_unl, cut, size, recall = _direction_and_cut(pos, wp, neg, unl, pull)
    # One round of contrast with the near neighbours the first cut leaves out (the
    # photos ranked just below it act as implicit counter-examples): what the examples
    # share with their whole kind (food, landscape) leaves the direction, what sets them
    # apart from it stays. Measured on bench_teach.py (5 examples, tuned): mean F1
    # 0.50 -> 0.53, the dishes' and dogs' precision up most; more rounds, or adding the confident
    # members as extra positives, did not help (docs/benchmarks.md).
    band = near_band(z_unl, cut)
    # ... unless the first cut already stands in a gap wider than the examples' spread:
    # the category is a block apart from its neighbours, and contrasting it with photos
    # that are not like it only adds their noise (a synthetic cluster lost a quarter of
    # its recall that way)
    if len(band) and float(z_unl[band[0]]) >= cut - loo_spread(loo):
        pull = (1.0 - NEAR_PULL) * pull + NEAR_PULL * unl[band].mean(axis=0)
        d, loo, z_unl, cut, size, recall = _direction_and_cut(pos, wp, neg, unl, pull)
    spread = loo_spread(loo)
    # A large library shows a block of a category as a bump of scores with a valley under
    # it (forests, cats): the valley is where the category ends, not the normal model's
    # cut. Looked for once the direction is final: the first cut sets the near band.
    u = d / max(float(np.linalg.norm(d)), 1e-12)
    valley = density_valley(z_unl, cut, spread)
    if valley is not None:
        mu = float(np.mean(loo))
        if len(neg):  # still never where the counter-examples outnumber the examples
            valley = max(valley, counter_cut(neg @ u, mu, spread))
        cut = min(cut, valley)
        recall = float(norm.sf((cut - mu) / spread))
    coef = u / spread
    bias = -(float(centre @ u) + cut) / spread
    examples = pos[wp >= 1.0] if (wp >= 1.0).sum() >= 2 else pos
    alike = examples / np.maximum(np.linalg.norm(examples, axis=1, keepdims=True), 1e-12)
    pair = alike @ alike.T
    n = len(alike)
    return binary_head(
        name,
        coef,
        bias,
        0.5,
        description,
        {
            "method": "prototype-pu/2",
            "positives": n_pos,
            "negatives": n_neg,
            "unlabelled": int(len(unl)),
            "estimated_share": round(size / len(unl), 4) if len(unl) else None,
            "sample_share": round(float((z_unl >= cut).mean()), 4) if len(unl) else None,
            "near_band": int(len(band)),
            "loo_recall": round(float((loo >= cut).mean()), 4),
            "modelled_recall": round(recall, 4),
            # how alike the examples are (mean pairwise cosine, centred): near 1 = the
            # same scene again; low = they share little the backbone sees
            "examples_alike": round(float((pair.sum() - n) / max(n * (n - 1), 1)), 4),
            "cv": {},
        },
    )


def fit_category_head(name: str, data: Labelled, **kwargs: object) -> Head:
    """A one-vs-rest head for ``name`` (labels ``["other", name]``).

    With ``data.unlabelled`` (the Teacher's data, see data.training_data): the prototype
    method of the module doc. Without: the calibrated logistic head of
    :func:`_fit_category_head` (its options apply). Raises :class:`NotEnoughExamples` with
    fewer than 2 positives, or with neither unlabelled photos nor negatives.
    """
    with single_thread_blas():
        if data.unlabelled is not None and len(data.unlabelled):
            return fit_prototype_head(name, data, description=str(kwargs.get("description", "")))
        return _fit_category_head(name, data, **kwargs)  # type: ignore[arg-type]


def scores(head: Head, embeddings: np.ndarray) -> np.ndarray:
    """P(in the category) for each embedding row: one matrix-vector product.

    The L2 normalisation is applied to the products (``x @ w / |x|``), not to a normalised
    copy of the rows: for 50,000 x 1280 embeddings that copy alone is 256 MB.
    """
    if len(embeddings) == 0:
        return np.zeros(0, np.float32)
    x = np.asarray(embeddings, dtype=np.float32)
    w, b = head.weights[0], head.biases[0]
    z = x @ (w[:, 1] - w[:, 0]).astype(np.float32)
    if head.l2_normalize:
        z = z / np.maximum(np.sqrt(np.einsum("ij,ij->i", x, x)), 1e-12)
    z = (z + (b[1] - b[0])) / head.temperature
    return (1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))).astype(np.float32)


def binary_metrics(p: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, balanced accuracy, precision, recall, F1 and log loss of scores ``p``."""
    y = np.asarray(y).astype(int)
    pred = np.asarray(p) >= threshold
    tp = int(((y == 1) & pred).sum())
    fp = int(((y == 0) & pred).sum())
    fn = int(((y == 1) & ~pred).sum())
    tn = int(((y == 0) & ~pred).sum())
    tpr = tp / max(tp + fn, 1)
    tnr = tn / max(tn + fp, 1)
    precision = tp / max(tp + fp, 1)
    pc = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    logloss = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))) if len(y) else 0.0
    return {
        "n": int(len(y)),
        "accuracy": round((tp + tn) / max(len(y), 1), 4),
        "balanced_accuracy": round((tpr + tnr) / 2 if (tp + fn) and (tn + fp) else tpr or tnr, 4),
        "precision": round(precision, 4),
        "recall": round(tpr, 4),
        "f1": round(2 * tp / max(2 * tp + fp + fn, 1), 4),
        "log_loss": round(logloss, 4),
    }
