"""Learning from corrections, refusing worse retrains, active learning, pseudo-labels."""

from __future__ import annotations

import numpy as np

from smartalbum.categories import store
from smartalbum.categories.active import review_queue
from smartalbum.categories.fit import Labelled, fit_category_head
from smartalbum.categories.pseudo import grow
from smartalbum.categories.query import members
from smartalbum.categories.retrain import retrain, retrain_category
from smartalbum.library.catalog import add_correction
from smartalbum.library.db import session_scope


def member_ids(cat, name: str) -> set[int]:
    with cat.factory() as s:
        return {r["photo_id"] for r in members(s, name)}


def two_close_clusters(make_catalog):
    """Class 0 and class 1 are neighbours (class 1 = class 0 shifted a little); the user's
    examples are class 0 only, so the first head also takes part of class 1."""
    rng = np.random.default_rng(3)
    c0 = rng.normal(size=32)
    centres = np.stack(
        [c0, c0 + 0.2 * rng.normal(size=32), rng.normal(size=32), rng.normal(size=32)]
    )
    return make_catalog([120, 120, 150, 150], dim=32, spread=0.35, centres=centres)


def test_corrections_change_predictions_after_retrain(make_catalog):
    cat = two_close_clusters(make_catalog)
    a, b = cat.of(0), cat.of(1)
    cat.teacher.create("dogs", a[:8].tolist())
    first = member_ids(cat, "dogs")
    wrongly_in = set(b.tolist()) & first
    assert len(wrongly_in) > 20  # the neighbour class was partly taken in

    corrected = sorted(wrongly_in)[:15]
    for pid in corrected:
        cat.teacher.correct("dogs", pid, positive=False)
    # a correction applies to the members at once...
    assert not set(corrected) & member_ids(cat, "dogs")
    # ...and the head learns from it at the next retrain
    [report] = retrain(cat.teacher)
    assert report.accepted, report
    assert report.version_after == 2 and report.version_before == 1
    after = member_ids(cat, "dogs")
    assert len(set(b.tolist()) & after) < len(wrongly_in) / 2
    assert len(set(a.tolist()) & after) > 100  # the real dogs stay


def test_catalog_corrections_are_positive_examples(make_catalog):
    cat = make_catalog([100, 100, 100])
    a = cat.of(0)
    cat.teacher.create("boats", a[:3].tolist())
    with session_scope(cat.factory) as s:
        for pid in a[3:10]:
            add_correction(s, int(pid), "boats", source="web")
    [report] = retrain(cat.teacher, ["boats"])
    assert report.accepted
    with cat.factory() as s:
        head = store.active_version(s, store.get_category(s, "boats"))
    assert head.metrics["positives"] == 10  # 3 examples + 7 corrected in the catalog


def test_a_worse_retrain_is_refused_and_versions_are_kept(make_catalog):
    cat = make_catalog([100, 100, 100])
    a, b = cat.of(0), cat.of(1)
    cat.teacher.create("cats", a[:20].tolist(), b[:20].tolist())
    before = member_ids(cat, "cats")

    def sabotaged(name, data, **kw):
        """A fitter that learned the labels backwards."""
        flipped = Labelled(data.x, 1 - data.y, data.w)
        head = fit_category_head(name, flipped, **kw)
        return head

    with session_scope(cat.factory) as s:
        report = retrain_category(cat.teacher, s, store.get_category(s, "cats"), fit=sabotaged)
    assert not report.accepted and report.reason.startswith("refused")
    assert report.held_back > 0
    assert report.after["balanced_accuracy"] < report.before["balanced_accuracy"]
    with cat.factory() as s:
        category = store.get_category(s, "cats")
        assert [v.version for v in store.versions(s, category)] == [1]
        assert store.active_version(s, category).version == 1
    assert member_ids(cat, "cats") == before


def test_review_queue_puts_uncertain_unlabelled_photos_first(make_catalog):
    cat = two_close_clusters(make_catalog)
    a = cat.of(0)
    cat.teacher.create("dogs", a[:8].tolist())
    with cat.factory() as s:
        category = store.get_category(s, "dogs")
        queue = review_queue(s, category, cat.teacher.matrix(s), limit=30)
        threshold = store.head_of(store.active_version(s, category)).threshold
    assert len(queue) == 30
    ids = [q["photo_id"] for q in queue]
    assert not set(ids) & set(a[:8].tolist())  # labelled photos are not asked again
    unc = [q["uncertainty"] for q in queue]
    assert unc == sorted(unc, reverse=True)
    # the queue is nearer the threshold than the catalog at large
    gaps = [abs(q["score"] - threshold) for q in queue]
    assert max(gaps) < 0.45


def test_pseudo_labels_are_kept_only_when_they_help(make_catalog):
    cat = make_catalog([150, 150, 150], spread=0.8)
    a, b = cat.of(0), cat.of(1)
    cat.teacher.create("trees", a[:24].tolist(), b[:12].tolist())
    with session_scope(cat.factory) as s:
        report = grow(cat.teacher, s, store.get_category(s, "trees"))
    with cat.factory() as s:
        versions = store.versions(s, store.get_category(s, "trees"))
    assert report.pseudo_positives > 0
    if report.kept:
        assert len(versions) == 2 and versions[-1].reason == "pseudo"
        w, wo = report.with_pseudo, report.without
        assert (w["balanced_accuracy"], -w["log_loss"]) > (wo["balanced_accuracy"], -wo["log_loss"])
    else:
        assert len(versions) == 1 and report.reason.startswith("not kept")


def test_pseudo_labels_need_held_back_labels(make_catalog):
    cat = make_catalog([50, 50])
    cat.teacher.create("x", cat.of(0)[:2].tolist())
    with session_scope(cat.factory) as s:
        report = grow(cat.teacher, s, store.get_category(s, "x"))
    assert not report.kept and "held-back" in report.reason
