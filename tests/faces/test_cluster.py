"""Clustering: real faces with known identities, and the rules of re-clustering on synthetic
descriptors (where every distance is known)."""

from __future__ import annotations

import numpy as np
import pytest

from smartalbum.faces.cluster import chinese_whispers, distances, edges, match, plan_recluster
from smartalbum.faces.detect import detect_faces
from smartalbum.faces.embed import describe_faces


def _identity_set(faces) -> tuple[np.ndarray, np.ndarray]:
    """Descriptors of augmented pictures of 4 people, and who each one is."""
    vectors, truth = [], []
    for person, image in enumerate((faces.astronaut, *faces.others)):
        for variant in faces.variants(image):
            found = detect_faces(variant)
            if found:
                vectors.append(describe_faces(variant, found[:1])[0])
                truth.append(person)
    return np.stack(vectors), np.asarray(truth)


@pytest.mark.slow
def test_known_identities_form_one_pure_cluster_each(faces) -> None:
    vectors, truth = _identity_set(faces)
    assert len(vectors) >= 20
    labels = chinese_whispers(vectors, 0.5)
    # Same partition as the truth: each cluster holds one person, each person one cluster.
    pairs = {(int(a), int(b)) for a, b in zip(labels, truth, strict=True)}
    assert len(pairs) == len(set(labels)) == len(set(truth)) == 4


def _blobs(n_people: int, per: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic descriptors: people ~1.0 apart, pictures of one person ~0.25 apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, 128)).astype(np.float32)
    centres *= 0.7 / np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.normal(scale=0.125 / np.sqrt(128) * np.sqrt(2), size=(n_people * per, 128))
    vectors = np.repeat(centres, per, axis=0) + noise.astype(np.float32)
    return vectors.astype(np.float32), np.repeat(np.arange(n_people), per)


def test_distances_and_edges_agree_with_numpy() -> None:
    vectors, _ = _blobs(5, 4)
    d = distances(vectors, vectors)
    ref = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)
    assert np.allclose(d, ref, atol=1e-3)  # float32 cancellation near 0
    got = set(edges(vectors, 0.5))
    want = {(i, j) for i in range(20) for j in range(i + 1, 20) if ref[i, j] < 0.5}
    assert got == want


def test_singletons_and_empty_input() -> None:
    assert chinese_whispers(np.zeros((0, 128), np.float32), 0.5).shape == (0,)
    vectors, truth = _blobs(6, 1)
    assert len(set(chinese_whispers(vectors, 0.5).tolist())) == 6


def test_match_takes_the_nearest_person_it_is_allowed_to_join() -> None:
    vectors, truth = _blobs(3, 4)
    probe = vectors[0] + 0.01
    assert match(probe, vectors[1:], truth[1:].tolist(), 0.5) == 0
    assert match(probe, vectors[1:], truth[1:].tolist(), 0.5, banned={0}) is None
    assert match(probe, vectors[4:], truth[4:].tolist(), 0.5) is None  # nobody near


def test_recluster_keeps_ids_locks_and_bans() -> None:
    vectors, truth = _blobs(3, 5)
    ids = list(range(100, 115))
    # Person 7 was confirmed by the user through two faces of identity 0.
    locked = {100: 7, 101: 7}
    # Identity 1 was auto person 8 before; identity 2 nobody yet.
    previous = {105 + k: 8 for k in range(5)}
    # Face 102 (identity 0) was rejected from person 7; face 106 banned from 8.
    banned = {102: {7}, 106: {8}}
    plan = plan_recluster(
        ids, vectors, locked=locked, previous=previous, banned=banned, threshold=0.5
    )
    assert all(plan.assign[f] == 7 for f in (103, 104))
    assert 102 not in plan.assign  # never back with 7, and too alone for a new person
    assert all(plan.assign[f] == 8 for f in (105, 107, 108, 109))
    assert 106 not in plan.assign
    new = {plan.assign[f] for f in range(110, 115)}
    assert len(new) == 1 and next(iter(new)) < 0 and plan.new_people == 1
    assert 100 not in plan.assign and 101 not in plan.assign  # locked faces never move


def test_recluster_min_cluster_leaves_strangers_alone() -> None:
    vectors, _ = _blobs(4, 1)
    plan = plan_recluster(
        [1, 2, 3, 4], vectors, locked={}, previous={}, banned={}, threshold=0.5, min_cluster=2
    )
    assert plan.assign == {} and plan.clusters == 4


def test_recluster_gives_a_person_one_face_per_photo() -> None:
    """Twins side by side in one photo look alike: only one of them joins the person."""
    vectors, _ = _blobs(1, 4)
    ids = [1, 2, 3, 4]
    photos = {1: 10, 2: 11, 3: 12, 4: 12}  # faces 3 and 4 share photo 12
    plan = plan_recluster(
        ids, vectors, locked={}, previous={}, banned={}, threshold=0.5, photos=photos
    )
    assert plan.assign[1] == plan.assign[2] < 0
    assert (3 in plan.assign) != (4 in plan.assign)
    locked = plan_recluster(
        ids, vectors, locked={3: 5}, previous={}, banned={}, threshold=0.5, photos=photos
    )
    assert 4 not in locked.assign and locked.assign[1] == 5
