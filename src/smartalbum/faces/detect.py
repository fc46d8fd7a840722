"""Find faces in a decoded photo: dlib's HOG frontal face detector + 5-point landmarks.

Why HOG and not dlib's CNN (mmod) detector: on a CPU the CNN takes seconds per photo at the
sizes that find small faces (docs/benchmarks.md, ## Faces), HOG a fraction of a second; HOG
misses strongly turned heads, which would make poor descriptors anyway. OpenCV's Haar
cascades were not used: dlib's HOG is as fast here and has fewer false faces, and one
detector keeps one score scale.

Resolution: HOG's smallest face is about 80 px (40 px with one 2x upsampling). The photo is
decoded with its longest side at ``detect_size`` (default 3072), which finds faces of
~105 px in a 4032 px-wide 12 MP original — a group of six standing people in two rows.
Measured on such photos (docs/benchmarks.md, ## Faces): 2048 px found 24 of 32 faces at
0.8 s per photo, 3072 px 31 of 32 at 1.2 s (one core). Smaller photos (under half
``detect_size``) are upsampled once, so a 550 px street photo still shows its 40 px face;
the cost stays bounded by ``detect_size`` squared either way.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

#: Bumped when detection changes in a way that should rescan photos (stored per scan).
DETECTOR_VERSION = "hog5-v1"


@dataclass(frozen=True)
class DetectedFace:
    """A face in image pixels of the array it was found in (box, 5 landmarks, score)."""

    left: int
    top: int
    right: int
    bottom: int
    score: float
    landmarks: list[tuple[float, float]] = field(default_factory=list)
    shape: Any = field(default=None, repr=False, compare=False)  # dlib.full_object_detection

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@lru_cache(maxsize=1)
def _models() -> tuple[Any, Any]:
    """dlib's HOG detector and 5-point shape predictor (loaded once per process; the files
    ship in ``face_recognition_models``, nothing is downloaded)."""
    import dlib
    import face_recognition_models as frm

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    return detector, predictor


_lock = threading.Lock()


def auto_upsample(shape: tuple[int, ...], detect_size: int) -> int:
    """Upsample once when the image is smaller than half ``detect_size`` (see module doc)."""
    return 1 if max(shape[:2]) * 2 <= detect_size else 0


def detect_faces(
    image: np.ndarray,
    *,
    upsample: int | None = None,
    detect_size: int = 3072,
    min_score: float = 0.0,
) -> list[DetectedFace]:
    """Faces of an RGB uint8 image (H x W x 3), best score first, with 5-point landmarks.

    Boxes are clipped to the image. ``upsample`` None: :func:`auto_upsample`.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {image.shape} {image.dtype}")
    import dlib

    detector, predictor = _models()
    n = auto_upsample(image.shape, detect_size) if upsample is None else int(upsample)
    image = np.ascontiguousarray(image)
    # dlib's detector object is not documented as thread-safe; the GIL is released inside.
    with _lock:
        rects, scores, _ = detector.run(image, n, float(min_score))
    height, width = image.shape[:2]
    out = []
    for rect, score in zip(rects, scores, strict=True):
        box = dlib.rectangle(
            max(0, rect.left()),
            max(0, rect.top()),
            min(width - 1, rect.right()),
            min(height - 1, rect.bottom()),
        )
        if box.width() < 8 or box.height() < 8:
            continue
        shape = predictor(image, box)
        points = [(float(shape.part(i).x), float(shape.part(i).y)) for i in range(5)]
        out.append(
            DetectedFace(
                box.left(), box.top(), box.right(), box.bottom(), float(score), points, shape
            )
        )
    out.sort(key=lambda f: -f.score)
    return out
