"""Group face descriptors into people — pure functions over arrays (no catalog, no models).

* :func:`chinese_whispers` — the graph clustering dlib recommends for its descriptors: an
  edge joins two faces closer than the threshold, labels spread along edges. Unlike k-means
  it needs no number of people, and unlike plain connected components one stray edge does
  not merge two people.
* :func:`match` — incremental assignment of one new face as photos arrive: the person of
  its nearest assigned face within the threshold, skipping people it may not join.
* :func:`plan_recluster` — the full re-clustering that keeps the user's word: faces the user
  placed (``locked``) never move; free faces are clustered again, and a cluster keeps the
  person most of its faces had (stable ids across runs: a person the user split stays as
  they left it), else joins the person whose confirmed faces it is close to, else becomes a
  new person when it is large enough.
  A face is never put with a person it is banned from (a rejection, or a photo taken before
  that person's birth date).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

#: Faces compared at once when building the graph (bounds memory: BLOCK x n floats).
BLOCK = 2048


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``a`` (n x d) and ``b`` (m x d), float32."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(sq, 0.0, out=sq), out=sq)


def edges(vectors: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, closer than ``threshold``; computed in blocks of rows."""
    vectors = np.asarray(vectors, np.float32)
    out: list[tuple[int, int]] = []
    for start in range(0, len(vectors), BLOCK):
        block = distances(vectors[start : start + BLOCK], vectors[start:])
        rows, cols = np.nonzero(block < threshold)
        keep = cols > rows  # block column c is vector start + c
        out.extend(zip((rows[keep] + start).tolist(), (cols[keep] + start).tolist(), strict=True))
    return out


def chinese_whispers(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Cluster labels (0..k-1, by first appearance) for each row of ``vectors``.

    dlib's implementation (deterministic: fixed seed); every face gets a self-edge so a
    face with no neighbour is its own cluster.
    """
    n = len(vectors)
    if n == 0:
        return np.zeros(0, np.int64)
    import dlib

    graph = [(i, i) for i in range(n)]
    graph.extend(edges(vectors, threshold))
    raw = dlib.chinese_whispers(graph)
    relabel: dict[int, int] = {}
    return np.asarray([relabel.setdefault(int(x), len(relabel)) for x in raw], np.int64)


def match(
    vector: np.ndarray,
    assigned: np.ndarray,
    persons: Sequence[int] | np.ndarray,
    threshold: float,
    banned: set[int] | frozenset[int] = frozenset(),
) -> int | None:
    """The person a new face joins: the one with the nearest face under ``threshold``
    (``assigned`` rows belong to ``persons``), never one in ``banned``; None if none."""
    if len(assigned) == 0:
        return None
    d = distances(np.asarray(vector)[None, :], assigned)[0]
    near = np.flatnonzero(d < threshold)  # usually a handful: the loop below is short
    for i in near[np.argsort(d[near], kind="stable")]:
        person = int(persons[i])
        if person not in banned:
            return person
    return None


@dataclass
class ReclusterPlan:
    """Where each free face goes: ``assign`` face id -> person id (>0, existing) or new-person
    token (<0); free faces not in it are left without a person."""

    assign: dict[int, int] = field(default_factory=dict)
    new_people: int = 0
    clusters: int = 0


def plan_recluster(
    ids: Sequence[int],
    vectors: np.ndarray,
    *,
    locked: Mapping[int, int],
    previous: Mapping[int, int],
    banned: Mapping[int, set[int]],
    threshold: float,
    min_cluster: int = 2,
    photos: Mapping[int, int] | None = None,
) -> ReclusterPlan:
    """Re-cluster every face not ``locked`` (face id -> person the user put it with).

    ``previous``: face id -> its current automatic person (for stable ids); ``banned``:
    face id -> persons it must not join; ``photos``: face id -> photo id, to keep one
    person to one face per photo (the face nearest the person's others stays).
    """
    ids = list(ids)
    vectors = np.asarray(vectors, np.float32).reshape(len(ids), -1)
    index = {fid: i for i, fid in enumerate(ids)}
    free = [i for i, fid in enumerate(ids) if fid not in locked]
    plan = ReclusterPlan()
    if not free:
        return plan

    # Nearest locked face per anchored person, for every free face.
    anchors: dict[int, list[int]] = {}
    for fid, person in locked.items():
        if fid in index:
            anchors.setdefault(person, []).append(index[fid])
    anchor_people = sorted(anchors)
    near = np.full((len(free), len(anchor_people)), np.inf, np.float32)
    for k, person in enumerate(anchor_people):
        near[:, k] = distances(vectors[free], vectors[anchors[person]]).min(1)

    labels = chinese_whispers(vectors[free], threshold)
    members: dict[int, list[int]] = {}
    for pos, label in enumerate(labels.tolist()):
        members.setdefault(label, []).append(pos)
    plan.clusters = len(members)
    claimed: set[int] = set()
    leftovers: list[int] = []

    def allowed(pos: int, person: int) -> bool:
        return person not in banned.get(ids[free[pos]], ())

    # Largest clusters choose first, so a big group keeps its old id over a splinter.
    for group in sorted(members.values(), key=lambda g: (-len(g), g[0])):
        target: int | None = None
        votes = Counter(
            previous[ids[free[p]]] for p in group if ids[free[p]] in previous
        ).most_common()
        for person, _ in votes:
            if person in anchors or person not in claimed:
                target = person
                break
        if target is None and anchor_people:
            median = np.median(near[group], axis=0)
            k = int(np.argmin(median))
            if median[k] < threshold:
                target = anchor_people[k]
        if target is None and len(group) >= min_cluster:
            plan.new_people += 1
            target = -plan.new_people
        if target is None:
            leftovers.extend(group)
            continue
        claimed.add(target)
        for pos in group:
            if allowed(pos, target):
                plan.assign[ids[free[pos]]] = target
            else:
                leftovers.append(pos)

    if photos:
        _one_face_per_photo(plan, ids, vectors, locked, photos)

    # A face left alone may still be close enough to one person the user confirmed.
    for pos in leftovers:
        order = np.argsort(near[pos]) if anchor_people else []
        for k in order:
            if near[pos, k] >= threshold:
                break
            if allowed(pos, anchor_people[k]):
                plan.assign[ids[free[pos]]] = anchor_people[k]
                break
    return plan


def _one_face_per_photo(
    plan: ReclusterPlan,
    ids: list[int],
    vectors: np.ndarray,
    locked: Mapping[int, int],
    photos: Mapping[int, int],
) -> None:
    """Two faces of one photo are two people: of several faces a person got in one photo
    (or beside a face the user placed there), only the nearest to its centroid stays."""
    index = {fid: i for i, fid in enumerate(ids)}
    members: dict[int, list[int]] = {}
    for fid, person in [*plan.assign.items(), *locked.items()]:
        members.setdefault(person, []).append(fid)
    for fids in members.values():
        by_photo: dict[int, list[int]] = {}
        for fid in fids:
            by_photo.setdefault(photos.get(fid, -fid), []).append(fid)
        clashes = [group for group in by_photo.values() if len(group) > 1]
        if not clashes:
            continue
        centroid = vectors[[index[f] for f in fids]].mean(0, keepdims=True)
        for group in clashes:
            keep = [f for f in group if f in locked]
            if not keep:
                d = distances(vectors[[index[f] for f in group]], centroid)[:, 0]
                keep = [group[int(np.argmin(d))]]
            for fid in group:
                if fid not in keep and fid not in locked:
                    plan.assign.pop(fid, None)
