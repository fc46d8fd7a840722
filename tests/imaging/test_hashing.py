"""Content hashes (SHA-256) and perceptual hashes (pHash, dHash)."""

from __future__ import annotations

import hashlib
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from smartalbum.imaging.hashing import dhash, hamming, phash, sha256_bytes, sha256_file

HASHES = [phash, dhash]


def reencode(image: np.ndarray, quality: int = 70) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def test_sha256_bytes_and_file(tmp_path):
    assert sha256_bytes(b"abc") == hashlib.sha256(b"abc").hexdigest()
    data = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == expected
    assert sha256_file(str(path), chunk_size=4096) == expected  # many chunks, same digest
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256_file(empty) == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("fn", HASHES, ids=lambda f: f.__name__)
def test_hash_is_a_stable_64_bit_int(imagekit, fn):
    scene = imagekit.scene(320, 240, seed=1)
    h = fn(scene)
    assert isinstance(h, int) and 0 <= h < 2**64
    assert fn(scene.copy()) == h
    assert 8 < bin(h).count("1") < 56  # a real picture sets a mix of bits


@pytest.mark.parametrize("fn", HASHES, ids=lambda f: f.__name__)
def test_resized_and_reencoded_copy_is_near(imagekit, fn):
    scene = imagekit.scene(640, 480, seed=2)
    copy = reencode(cv2.resize(scene, (300, 225), interpolation=cv2.INTER_AREA), quality=70)
    assert hamming(fn(scene), fn(copy)) <= 6


@pytest.mark.parametrize("fn", HASHES, ids=lambda f: f.__name__)
def test_different_photos_are_far_apart(imagekit, fn):
    hashes = [fn(imagekit.scene(320, 240, seed=s)) for s in range(10, 16)]
    distances = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) >= 12, distances


def test_grey_input_matches_rgb(imagekit):
    scene = imagekit.scene(200, 150, seed=3)
    grey = cv2.cvtColor(scene, cv2.COLOR_RGB2GRAY)
    assert phash(grey) == phash(scene) and dhash(grey) == dhash(scene)


def test_dhash_reflects_gradient_direction():
    ramp = np.tile(np.arange(0, 256, 2, dtype=np.uint8), (64, 1))  # brighter to the right
    assert dhash(ramp) == 0
    assert dhash(ramp[:, ::-1].copy()) == 2**64 - 1


def test_hamming():
    assert hamming(0, 0) == 0
    assert hamming(0b1011, 0b0001) == 2
    assert hamming(0, 2**64 - 1) == 64


@pytest.mark.parametrize("fn", HASHES, ids=lambda f: f.__name__)
def test_invalid_input(fn):
    with pytest.raises(ValueError):
        fn(np.zeros((8, 8, 4), np.uint8))
    with pytest.raises(ValueError):
        fn(np.zeros((8, 8, 3), np.float32))
