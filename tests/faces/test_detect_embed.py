"""Detection counts and descriptor distances on real faces (bundled and, when present, shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smartalbum.faces.cluster import distances
from smartalbum.faces.detect import DETECTOR_VERSION, detect_faces, dlib_box, min_face_size
from smartalbum.faces.embed import DIM, describe_faces, from_bytes, to_bytes
from smartalbum.imaging.decode import load_photo

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def test_one_face_in_the_astronaut_with_box_and_landmarks(faces) -> None:
    (face,) = detect_faces(faces.astronaut)
    assert 90 < face.left < 150 and 60 < face.top < 110 and 70 < face.width < 120
    assert face.score > 0.9
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
    assert detect_faces(np.full((12, 12, 3), 128, np.uint8)) == []  # smaller than any face


def test_no_false_face_in_the_lfw_non_face_crops() -> None:
    """lfw_subset's second hundred are real photo crops of no face (the detector literature's
    negatives): none of them, framed as the face tests frame faces, shows a face."""
    from skimage import data

    from faces.conftest import _lfw_face

    assert len(data.lfw_subset()) == 200
    assert [i for i in range(100, 200) if detect_faces(_lfw_face(i))] == []


def _hog_faces(image: np.ndarray) -> int:
    """Faces dlib's HOG detector (the one used before, with one upsampling) finds."""
    import dlib

    return len(dlib.get_frontal_face_detector()(np.ascontiguousarray(image), 1))


def test_finds_faces_the_hog_detector_missed() -> None:
    """Why the detector changed: the cameraman (a face half hidden by the camera, lit from
    one side) and the astronaut with her head tilted 50 degrees: HOG finds no face in
    either, MTCNN finds the one face, where it is."""
    import cv2
    from skimage import data

    camera = np.stack([data.camera()] * 3, axis=-1)
    turn = cv2.getRotationMatrix2D((256, 200), 50, 1.0)
    tilted = cv2.warpAffine(data.astronaut(), turn, (512, 512), borderMode=cv2.BORDER_REFLECT)
    assert _hog_faces(camera) == _hog_faces(tilted) == 0
    (face,) = detect_faces(camera)
    assert 170 < face.left < 220 and 100 < face.top < 160 and 45 < face.width < 90
    (face,) = detect_faces(tilted)
    assert 90 < face.left < 150 and 100 < face.top < 160 and 80 < face.width < 130


def test_landmarks_and_descriptor_match_those_of_the_hog_box(faces) -> None:
    """dlib's landmark model was trained on HOG's boxes: on MTCNN's box mapped to HOG's
    square, the 5 points and the descriptor are those HOG's own box gives."""
    import dlib

    from smartalbum.faces.detect import _predictor
    from smartalbum.faces.embed import _model

    for image in (faces.astronaut, *faces.others):
        (hog_box,) = dlib.get_frontal_face_detector()(image, 0)
        hog_shape = _predictor()(image, hog_box)
        (face,) = detect_faces(image)
        hog_points = np.array([(p.x, p.y) for p in hog_shape.parts()], float)
        eyes = np.linalg.norm(hog_points[0:2].mean(0) - hog_points[2:4].mean(0))
        assert np.abs(np.array(face.landmarks) - hog_points).max() < 0.15 * eyes
        ours = describe_faces(image, [face])[0]
        hogs = np.asarray(_model().compute_face_descriptor(image, hog_shape), np.float32)
        assert np.linalg.norm(ours - hogs) < 0.15  # same person is < 0.5


def test_dlib_box_is_the_square_hog_draws() -> None:
    left, top, right, bottom = dlib_box(100, 100, 76, 100)  # MTCNN boxes are tall
    assert right - left == bottom - top == round(0.976 * np.sqrt(7600))
    assert abs((left + right) / 2 - 138) <= 1 and (top + bottom) / 2 > 150 + 5  # lower


def test_smallest_face_searched_is_a_share_of_the_photo() -> None:
    assert min_face_size((1536, 2048, 3)) == 32
    assert min_face_size((3000, 4000, 3)) == 62
    assert min_face_size((550, 820, 3)) == 20  # small photos: the nets' floor
    assert DETECTOR_VERSION.startswith("mtcnn")


@pytest.mark.slow
def test_small_face_in_a_large_photo_is_found_at_the_working_size(faces, tmp_path) -> None:
    """A 12 MP-like photo with a face ~95 px wide (a group shot from a few metres): found
    at the default detect size (2048: ~49 px, above its 32 px smallest face); a search
    that starts at 128 px (``min_face``) misses it."""
    from PIL import Image

    from smartalbum.config import FaceSettings

    canvas = np.full((3000, 4000, 3), 90, np.uint8)
    canvas[1200:1420, 1800:1990] = faces.astronaut[40:260, 70:260]  # the head, face ~95 px
    path = tmp_path / "wide.jpg"
    Image.fromarray(canvas).save(path, quality=90)
    size = FaceSettings().detect_size
    image = load_photo(path, max_side=size).image
    assert max(image.shape[:2]) == size == 2048
    assert len(detect_faces(image)) == 1
    assert detect_faces(image, min_face=128) == []


def test_threads_share_no_detector_state(faces) -> None:
    """cv2.dnn nets keep per-call state: each thread has its own detector, so scans in
    parallel threads (web server, worker) give what one thread gives."""
    from concurrent.futures import ThreadPoolExecutor

    images = [faces.astronaut, *faces.others] * 3
    expected = [[(f.left, f.top, f.right, f.bottom) for f in detect_faces(i)] for i in images]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(detect_faces, images))
    assert [[(f.left, f.top, f.right, f.bottom) for f in g] for g in got] == expected


def test_descriptors_are_128_floats_and_round_trip_as_bytes(faces) -> None:
    found = detect_faces(faces.astronaut)
    vectors = describe_faces(faces.astronaut, found)
    assert vectors.shape == (1, DIM) and vectors.dtype == np.float32
    assert np.array_equal(from_bytes(to_bytes(vectors[0])), vectors[0])
    assert describe_faces(faces.astronaut, []).shape == (0, DIM)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="RGB"):
        detect_faces(np.zeros((10, 10), np.uint8))


def _first(image: np.ndarray) -> np.ndarray:
    found = detect_faces(image)
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
    """Full-body street photos (~550 x 825 px, faces ~60 px): most show exactly one face
    (small photos are searched for faces from 20 px)."""
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
            got = detect_faces(variant)
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


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "wild").is_dir(), reason="no shared data")
def test_real_album_photos_people_show_faces_landscapes_none() -> None:
    """The shared wild photos' validation split (groups, selfies, portraits from other
    sources than the pool): nearly every people photo shows a face (HOG: 86 % of all wild
    people photos), no landscape does (docs/benchmarks.md, ## Faces)."""
    import csv

    wild = SHARED_DATA / "wild"
    rows = [r for r in csv.DictReader((wild / "MANIFEST_wild.csv").open()) if r["split"] == "val"]

    def with_a_face(cls: str) -> list[bool]:
        return [
            bool(detect_faces(load_photo(wild / r["file"], max_side=2048).image))
            for r in rows
            if r["class"] == cls
        ]

    people, landscape = with_a_face("people"), with_a_face("landscape")
    assert len(people) >= 60 and len(landscape) >= 60
    assert np.mean(people) >= 0.92
    assert not any(landscape)
