"""Duplicates: exact copies, near-copies (resized, re-encoded) vs burst-like shots, keep order.

The generated "camera" below photographs a synthetic world: a copy is the same frame
resized or re-encoded; a burst shot is a new frame of the same world a moment later (the
subject moved a little, the framing shifted or zoomed a few percent, new sensor noise).
The same generator measured the thresholds documented in ``library/duplicates.py``.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from library.records import record
from smartalbum.imaging import load_photo
from smartalbum.imaging.hashing import hamming, phash
from smartalbum.library import duplicates as dup
from smartalbum.library.duplicates import Member

# --------------------------------------------------------------------------- the camera


def world(seed: int, width: int = 1000, height: int = 760) -> np.ndarray:
    """A photo-like scene larger than any frame taken of it: colour field and shapes."""
    rng = np.random.default_rng(seed)
    field = rng.integers(30, 226, size=(6, 8, 3), dtype=np.uint8)
    image = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
    unit = min(width, height) // 10
    for _ in range(25):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            radius = int(rng.integers(unit // 3, unit * 2))
            cv2.circle(image, (x, y), radius, colour, -1, lineType=cv2.LINE_AA)
        else:
            x2 = x + int(rng.integers(unit // 2, unit * 3))
            y2 = y + int(rng.integers(unit // 2, unit * 3))
            cv2.rectangle(image, (x, y), (x2, y2), colour, -1)
    return image


def shot(
    scene: np.ndarray,
    seed: int,
    *,
    shift: tuple[float, float] = (0.0, 0.0),
    subject: tuple[float, float] = (0.0, 0.0),
    zoom: float = 1.0,
    size: tuple[int, int] = (640, 480),
    noise: float = 3.0,
) -> np.ndarray:
    """One frame: the window moved by ``shift`` (fractions of the frame), zoomed in by
    ``zoom``, with a figure moved by ``subject`` (fractions) and fresh sensor noise."""
    h, w = scene.shape[:2]
    fw, fh = int(size[0] / zoom), int(size[1] / zoom)
    x0 = int((w - fw) / 2 + shift[0] * size[0])
    y0 = int((h - fh) / 2 + shift[1] * size[1])
    frame = scene[y0 : y0 + fh, x0 : x0 + fw].copy()
    frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    sx, sy = int(size[0] * (0.45 + subject[0])), int(size[1] * (0.55 + subject[1]))
    r = size[1] // 6
    cv2.ellipse(frame, (sx, sy), (r // 2, r), 0, 0, 360, (240, 200, 170), -1, cv2.LINE_AA)
    cv2.circle(frame, (sx, sy - r - r // 3), r // 3, (60, 40, 30), -1, cv2.LINE_AA)
    grain = np.random.default_rng(seed).normal(0, noise, size=frame.shape[:2] + (1,))
    return np.clip(frame + grain, 0, 255).astype(np.uint8)


def encode(image: np.ndarray, fmt: str = "JPEG", **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def resized(image: np.ndarray, factor: float) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def variants(seed: int) -> dict[str, bytes]:
    """An original, its copies and burst shots of the same scene (file bytes)."""
    scene = world(seed)
    original = encode(shot(scene, 1000 + seed), quality=92)
    pixels = decoded(original)
    return {
        "original": original,
        "copy_half": encode(resized(pixels, 0.5), quality=90),
        "copy_quarter": encode(resized(pixels, 0.25), quality=85),
        "copy_q50": encode(pixels, quality=50),
        "copy_png": encode(resized(pixels, 0.4), "PNG"),
        "burst_still": encode(shot(scene, 2000 + seed), quality=92),  # nothing moved
        "burst_subject": encode(shot(scene, 3000 + seed, subject=(0.03, 0.0)), quality=92),
        "burst_framing": encode(shot(scene, 4000 + seed, shift=(0.02, 0.01)), quality=92),
        "burst_zoom": encode(shot(scene, 5000 + seed, zoom=1.03), quality=92),
        "edit_grey": encode(
            np.repeat(pixels.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8), quality=92
        ),  # an edit, not a copy
    }


#: Which variants are the same picture as the original (grouped with it).
SAME_PICTURE = {"original", "copy_half", "copy_quarter", "copy_q50", "copy_png", "burst_still"}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> list:
    """Records for 3 scenes x 10 variants, written to files, with pHash from the decode."""
    root = tmp_path_factory.mktemp("shots")
    photos, names = [], {}
    for seed in range(3):
        for name, data in variants(seed).items():
            path = root / f"s{seed}_{name}.{'png' if name == 'copy_png' else 'jpg'}"
            path.write_bytes(data)
            photo = load_photo(path, max_side=512)
            rec = record(
                id=len(photos) + 1,
                sha256=photo.facts.sha256,
                width=photo.facts.width,
                height=photo.facts.height,
                phash=phash(photo.image),
                paths=[str(path)],
            )
            photos.append(rec)
            names[rec.id] = (seed, name)
    return [photos, names]


# --------------------------------------------------------------------------- candidates


def test_candidate_pairs_match_brute_force() -> None:
    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 2**63, size=600, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    hashes[300:400] = hashes[:100] ^ np.uint64(0b1011)  # 3 bits away
    hashes[400:450] = hashes[:50] ^ np.uint64((1 << 63) | (1 << 40) | 0xFF)  # 10 bits away
    for max_distance in (0, 3, 6, 10):
        pairs, dist = dup.candidate_pairs(hashes.tolist(), max_distance)
        full = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
        i, j = np.nonzero(np.triu(full <= max_distance, 1))
        assert sorted(map(tuple, pairs.tolist())) == sorted(
            zip(i.tolist(), j.tolist(), strict=True)
        )
        assert all(
            hamming(int(hashes[a]), int(hashes[b])) == d
            for (a, b), d in zip(pairs, dist, strict=True)
        )
    assert len(dup.candidate_pairs(hashes.tolist(), 3)[0]) >= 100


def test_candidate_pairs_scale_to_a_large_library() -> None:
    """20,000 random hashes with 500 planted near pairs: all found, no brute force needed."""
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**63, size=20_000, dtype=np.int64).astype(np.uint64) << np.uint64(1)
    flips = np.uint64(1) << rng.integers(0, 64, size=500).astype(np.uint64)
    hashes[-500:] = hashes[:500] ^ flips
    pairs, dist = dup.candidate_pairs(hashes.tolist(), 6)
    found = {tuple(p) for p in pairs.tolist()}
    assert {(k, 19_500 + k) for k in range(500)} <= found
    assert dist.max() <= 6


# --------------------------------------------------------------------------- exact & keep


def test_exact_groups_list_every_present_path_first_seen_kept() -> None:
    photos = [
        record(id=1, paths=["/a/one.jpg", "/b/one copy.jpg", "/c/one.jpg"]),
        record(id=2, paths=["/a/two.jpg"]),
    ]
    groups = dup.exact_groups(photos)
    assert len(groups) == 1
    g = groups[0]
    assert g.kind == "exact"
    assert [m.path for m in g.members] == ["/a/one.jpg", "/b/one copy.jpg", "/c/one.jpg"]
    assert g.keep.path == "/a/one.jpg"
    assert g.to_dict()["keep"]["path"] == "/a/one.jpg"


def _m(pid: int, w: int, h: int, taken: datetime | None, blur: float | None) -> Member:
    return Member(pid, f"/p/{pid}.jpg", w, h, taken, blur, f"{pid:064x}")


def test_keep_order_resolution_then_date_then_sharpness() -> None:
    early, late = datetime(2024, 5, 1, 9), datetime(2024, 5, 1, 10)
    members = [
        _m(1, 800, 600, early, 900.0),  # small
        _m(2, 4000, 3000, late, 900.0),  # big but later
        _m(3, 4000, 3000, early, 100.0),  # big, early, soft
        _m(4, 4000, 3000, early, 400.0),  # big, early, sharper: the one to keep
        _m(5, 4000, 3000, None, 999.0),  # undated sorts after dated
    ]
    order = [m.photo_id for m in sorted(members, key=dup.keep_key)]
    assert order == [4, 3, 2, 5, 1]
    assert "sharpest" in dup._keep_reason(sorted(members, key=dup.keep_key))
    assert "largest" in dup._keep_reason([members[1], members[0]])
    assert "earliest" in dup._keep_reason([members[2], members[1]])
    # Within the same second, time does not count: the sharper copy wins.
    soft = _m(6, 4000, 3000, early.replace(microsecond=100), 100.0)
    sharp = _m(7, 4000, 3000, early.replace(microsecond=900_000), 300.0)
    ranked = sorted([soft, sharp], key=dup.keep_key)
    assert ranked[0] is sharp and "sharpest" in dup._keep_reason(ranked)


# --------------------------------------------------------------------------- near


def _signature_of(photo) -> np.ndarray | None:
    return dup.file_signature(photo.paths[0])


def test_copies_are_grouped_and_bursts_are_not(shots) -> None:
    photos, names = shots
    stats = dup.NearStats()
    groups = dup.near_groups(photos, signature=_signature_of, stats=stats)
    grouped = {m.photo_id for g in groups for m in g.members}
    for g in groups:  # a group never mixes scenes
        assert len({names[m.photo_id][0] for m in g.members}) == 1
    for seed in range(3):
        expected = {pid for pid, (s, n) in names.items() if s == seed and n in SAME_PICTURE}
        group = [g for g in groups if {m.photo_id for m in g.members} & expected]
        assert len(group) == 1, f"scene {seed}: copies split over {len(group)} groups"
        assert {m.photo_id for m in group[0].members} == expected
        # the keeper is the full-resolution original or the identical-size burst_still
        assert names[group[0].keep.photo_id][1] in {"original", "copy_q50", "burst_still"}
        assert group[0].keep.width == 640
    others = {pid for pid, (_, n) in names.items() if n not in SAME_PICTURE}
    assert others and not grouped & others  # bursts and the black-and-white edit
    # The pHash alone would have let bursts through: the pixel check is what rejected them.
    assert stats.rejected_pixels > 0
    assert stats.candidates > stats.accepted


def test_bursts_pass_the_hash_screen_so_the_pixel_check_matters(shots) -> None:
    """Guard against a vacuous test: some burst pairs really are within 6 pHash bits."""
    photos, names = shots
    by_name = {names[p.id]: p for p in photos}
    close = [
        (seed, n)
        for seed in range(3)
        for n in ("burst_subject", "burst_framing", "burst_zoom")
        if hamming(by_name[(seed, "original")].phash, by_name[(seed, n)].phash) <= dup.HAMMING_MAX
    ]
    assert close, "no burst shot was a pHash candidate; the generator lost its purpose"


def test_cosine_vetoes_look_alikes(shots) -> None:
    photos, _ = shots
    rng = np.random.default_rng(0)
    orthogonal = {p.id: rng.normal(size=64) for p in photos}  # unrelated "content"
    stats = dup.NearStats()
    assert (
        dup.near_groups(photos, embeddings=orthogonal, signature=_signature_of, stats=stats) == []
    )
    assert stats.rejected_cosine == stats.candidates > 0
    same = {p.id: np.ones(64) for p in photos}
    assert dup.near_groups(photos, embeddings=same, signature=_signature_of)


def test_real_embeddings_from_the_tiny_backbone(shots, tiny_bundle_dir: Path) -> None:
    """Through the engine: copies' embeddings pass the cosine screen, groups unchanged."""
    from smartalbum.model.engine import Engine

    photos, names = shots
    engine = Engine.load(tiny_bundle_dir, threads=1)
    images = [load_photo(p.paths[0], max_side=128).image for p in photos]
    vectors = dict(zip([p.id for p in photos], engine.embed(images), strict=True))
    with_emb = dup.near_groups(photos, embeddings=vectors, signature=_signature_of)
    without = dup.near_groups(photos, signature=_signature_of)
    assert [sorted(m.photo_id for m in g.members) for g in with_emb] == [
        sorted(m.photo_id for m in g.members) for g in without
    ]
    assert all(g.min_cosine is not None and g.min_cosine >= dup.COSINE_MIN for g in with_emb)


def test_shipped_model_agrees(shots) -> None:
    """With the real backbone (when a bundle is installed), the same groups come out."""
    from smartalbum.model.bundle import BundleError
    from smartalbum.model.engine import Engine

    try:
        engine = Engine.load(None, threads=1)
    except (BundleError, OSError, ValueError) as exc:
        pytest.skip(f"no shipped model bundle: {exc}")
    photos, names = shots
    images = [
        load_photo(p.paths[0], max_side=2 * engine.bundle.preprocess.size).image for p in photos
    ]
    vectors = dict(zip([p.id for p in photos], engine.embed(images), strict=True))
    groups = dup.near_groups(photos, embeddings=vectors, signature=_signature_of)
    assert (
        sorted(sorted(names[m.photo_id][1] for m in g.members) for g in groups)
        == [sorted(SAME_PICTURE)] * 3
    )


def test_unverifiable_pairs_are_not_grouped(shots) -> None:
    photos, _ = shots
    stats = dup.NearStats()
    assert dup.near_groups(photos, signature=lambda p: None, stats=stats) == []
    assert stats.unverified == stats.candidates > 0


def test_find_duplicates_combines_exact_and_near(shots) -> None:
    photos, names = shots
    original = next(p for p in photos if names[p.id] == (0, "original"))
    extra_path = str(Path(original.paths[0]).with_name("again.jpg"))
    Path(extra_path).write_bytes(Path(original.paths[0]).read_bytes())
    original.paths.append(extra_path)
    try:
        groups = dup.find_duplicates(photos, signature=_signature_of)
        # the original's second copy joins its near group: one group per photo
        assert [g.kind for g in groups].count("exact") == 0
        assert [g.kind for g in groups].count("near") == 3
        assert extra_path in [m.path for g in groups for m in g.members]
        assert dup.find_duplicates(photos, near=False)[0].members[1].path == extra_path
    finally:
        original.paths.remove(extra_path)


def test_each_photo_is_in_exactly_one_group() -> None:
    """A photo with two identical copies that is also near another photo used to show in
    an exact group and again in the near group (issue 15): now one group holds all three."""
    from library.records import record

    original = record(id=1, width=400, height=300, phash=0b1011, paths=["/a/x.jpg", "/b/x.jpg"])
    small = record(id=2, width=100, height=75, phash=0b1011, paths=["/a/x-small.jpg"])
    other = record(id=3, phash=0xFFFF_0000_FFFF_0000, paths=["/c/1.jpg", "/c/2.jpg"])
    same = np.zeros((32, 32, 3), np.uint8)
    groups = dup.find_duplicates([original, small, other], signature=lambda p: same)
    seen = [m.photo_id for g in groups for m in g.members]
    by_photo = {pid: sum(any(m.photo_id == pid for m in g.members) for g in groups) for pid in seen}
    assert by_photo == {1: 1, 2: 1, 3: 1}
    near = next(g for g in groups if g.kind == "near")
    assert [(m.photo_id, m.path) for m in near.members] == [
        (1, "/a/x.jpg"),
        (1, "/b/x.jpg"),
        (2, "/a/x-small.jpg"),
    ]
    assert [g.kind for g in groups] == ["exact", "near"]
    assert dup.find_group(groups, 1, "/b/x.jpg") == near.to_dict()
    assert dup.find_group(groups, 1, "/nowhere.jpg") is None
