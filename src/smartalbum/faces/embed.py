"""Describe faces: dlib's ResNet face descriptor (128-d, ~99.4% on LFW) over 5-point-aligned
150 px chips. Two descriptors of one person are usually closer than 0.6 (Euclidean) and of
two people farther; the threshold used here was measured (config ``faces.match_threshold``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from smartalbum.faces.detect import DetectedFace

DIM = 128
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _model() -> Any:
    import dlib
    import face_recognition_models as frm

    return dlib.face_recognition_model_v1(frm.face_recognition_model_location())


def describe_faces(image: np.ndarray, faces: Sequence[DetectedFace]) -> np.ndarray:
    """float32 (len(faces), 128) descriptors of ``faces`` found in ``image`` (same array)."""
    if not faces:
        return np.zeros((0, DIM), np.float32)
    import dlib

    shapes = dlib.full_object_detections()
    for face in faces:
        shapes.append(face.shape)
    with _lock:
        vectors = _model().compute_face_descriptor(np.ascontiguousarray(image), shapes)
    return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32).reshape(-1, DIM)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").reshape(DIM).tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
