"""Detection counts and descriptor distances on real faces (bundled and, when present, shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smartalbum.faces.cluster import distances
from smartalbum.faces.detect import auto_upsample, detect_faces
from smartalbum.faces.embed import DIM, describe_faces, from_bytes, to_bytes
from smartalbum.imaging.decode import load_photo

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def test_one_face_in_the_astronaut_with_box_and_landmarks(faces) -> None:
    (face,) = detect_faces(faces.astronaut, upsample=0)
    assert 90 < face.left < 150 and 60 < face.top < 110 and 70 < face.width < 120
    assert face.score > 0.5
    assert len(face.landmarks) == 5
    for x, y in face.landmarks:  # eye corners and nose inside the box
        assert face.left - 5 <= x <= face.right + 5 and face.top - 5 <= y <= face.bottom + 5


def test_counts_every_face_of_a_group_photo(faces) -> None:
    group = faces.group(faces.astronaut, *faces.others)
    assert len(detect_faces(group)) == 4


def test_no_face_in_a_picture_without_one(imagekit) -> None:
    assert detect_faces(imagekit.marker(640, 480)) == []
    rng = np.random.default_rng(0)
    assert detect_faces(rng.integers(0, 255, (400, 600, 3), dtype=np.uint8)) == []


def test_small_photos_are_upsampled_large_ones_are_not() -> None:
    assert auto_upsample((550, 820, 3), 2048) == 1
    assert auto_upsample((1536, 2048, 3), 2048) == 0


@pytest.mark.slow
def test_small_face_in_a_large_photo_is_found_at_the_working_size(faces, tmp_path) -> None:
    """A 12 MP-like photo with a face ~95 px wide (a group shot from a few metres): found
    at the default detect size (3072), missed at 2048 — why the default is 3072."""
    from PIL import Image

    from smartalbum.config import FaceSettings

    canvas = np.full((3000, 4000, 3), 90, np.uint8)
    canvas[1200:1420, 1800:1990] = faces.astronaut[40:260, 70:260]  # the head, face ~95 px
    path = tmp_path / "wide.jpg"
    Image.fromarray(canvas).save(path, quality=90)
    size = FaceSettings().detect_size
    image = load_photo(path, max_side=size).image
    assert max(image.shape[:2]) == size == 3072
    assert len(detect_faces(image, detect_size=size)) == 1
    smaller = load_photo(path, max_side=2048).image
    assert detect_faces(smaller, detect_size=2048) == []


def test_descriptors_are_128_floats_and_round_trip_as_bytes(faces) -> None:
    found = detect_faces(faces.astronaut, upsample=0)
    vectors = describe_faces(faces.astronaut, found)
    assert vectors.shape == (1, DIM) and vectors.dtype == np.float32
    assert np.array_equal(from_bytes(to_bytes(vectors[0])), vectors[0])
    assert describe_faces(faces.astronaut, []).shape == (0, DIM)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="RGB"):
        detect_faces(np.zeros((10, 10), np.uint8))


def _first(image: np.ndarray) -> np.ndarray:
    found = detect_faces(image, upsample=0)
    assert found, "no face found"
    return describe_faces(image, found[:1])[0]


def test_same_person_is_closer_than_different_people(faces) -> None:
    same = np.stack([_first(v) for v in faces.variants(faces.astronaut)])
    others = np.stack([_first(o) for o in faces.others])
    within = distances(same, same)[np.triu_indices(len(same), 1)]
    between = distances(same, others)
    assert within.max() < 0.5 <= between.min()
    assert within.max() < between.min()


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "train_pool" / "people").is_dir(), reason="no shared data")
def test_real_street_photos_show_their_one_person() -> None:
    """Full-body street photos (~550 x 825 px, faces ~60 px): most show exactly one face,
    found thanks to the automatic upsampling of small photos."""
    paths = sorted((SHARED_DATA / "train_pool" / "people").glob("*.jpg"))[:20]
    counts = [len(detect_faces(load_photo(p, max_side=2048).image)) for p in paths]
    assert sum(c == 1 for c in counts) >= 16
    assert max(counts) <= 2


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "train_pool" / "people").is_dir(), reason="no shared data")
def test_real_street_faces_stay_together_under_augmentation() -> None:
    """Crops/flips of one street face are closer to each other than to other people's faces."""
    from faces.conftest import Faces

    paths = sorted((SHARED_DATA / "train_pool" / "people").glob("*.jpg"))[:12]
    groups = []
    for path in paths:
        image = load_photo(path, max_side=2048).image
        found = detect_faces(image)
        if len(found) != 1:
            continue
        f = found[0]
        r = int(f.width * 1.6)
        cx, cy = (f.left + f.right) // 2, (f.top + f.bottom) // 2
        crop = np.ascontiguousarray(image[max(0, cy - r) : cy + r, max(0, cx - r) : cx + r])
        vectors = []
        for variant in Faces.variants(crop)[:4]:
            got = detect_faces(variant, upsample=1)
            if got:
                vectors.append(describe_faces(variant, got[:1])[0])
        if len(vectors) >= 3:
            groups.append(np.stack(vectors))
    assert len(groups) >= 6
    within = max(distances(g, g).max() for g in groups)
    centroids = np.stack([g.mean(0) for g in groups])
    between = distances(centroids, centroids)[np.triu_indices(len(groups), 1)]
    assert within < 0.5
    assert np.median(between) > 0.6


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "edge_cases").is_dir(), reason="no shared data")
def test_edge_case_files_give_faces_or_a_typed_error() -> None:
    """Every odd real file (HEIC, CMYK, 16-bit, truncated, EXIF-rotated...) either goes
    through detection and description, or fails with a PhotoError — never anything else.
    The eight EXIF orientations of one photo give the same number of faces."""
    from smartalbum.imaging.errors import PhotoError

    scanned = failed = 0
    by_orientation: dict[str, int] = {}
    for path in sorted((SHARED_DATA / "edge_cases").rglob("*")):
        if not path.is_file() or path.suffix.lower() in (".md", ".txt", ".csv", ".json"):
            continue
        try:
            image = load_photo(path, max_side=1024).image
        except PhotoError:
            failed += 1
            continue
        found = detect_faces(image)
        assert describe_faces(image, found).shape == (len(found), DIM)
        scanned += 1
        if path.parent.name == "orientation":
            by_orientation[path.name] = len(found)
    assert scanned >= 30 and failed >= 1
    landscape = {v for k, v in by_orientation.items() if "landscape" in k}
    assert len(landscape) <= 1
