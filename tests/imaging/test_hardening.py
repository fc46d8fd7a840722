"""Hostile and unlucky inputs: memory bombs inside the limits, non-files, symlinked folders.

Issue 16, items 1, 2 and 8: a 20 KB PNG must not cost GBs, ``/dev/zero`` must not be read
forever, and a symlinked folder must be searched (once, even through a loop).
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from smartalbum.imaging import (
    FileReadError,
    FileTooLargeError,
    NotARegularFileError,
    TooLargeToDecodeError,
    load_photo,
)
from smartalbum.imaging import budget as budget_module
from smartalbum.imaging.budget import MemoryBudget, release_memory
from smartalbum.imaging.decode import decode_cost
from smartalbum.imaging.files import explain_nothing_found, find_photos
from smartalbum.imaging.reading import read_photo_file

from .bombs import BOMB_SIDE, png_bomb, write_png_bomb

SRC = Path(__file__).resolve().parents[2] / "src"

#: Generous bound on what decoding the 13000^2 1-bit PNG may add to a process's peak RSS:
#: its 169 MB raster plus slack. The old code added ~1.7 GB (a full-size "L", then RGBA
#: and RGB copies of 169 M pixels).
BOMB_PEAK_BOUND_MB = 500

_PEAK_SCRIPT = """
import resource, sys
from smartalbum.imaging import load_photo
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
photo = load_photo(sys.argv[1], max_side=512)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(photo.image.shape[0], photo.image.shape[1], (peak - base) // 1024)
"""


# --------------------------------------------------------------------------- memory bombs


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KB is Linux's unit")
def test_png_bomb_peak_rss_stays_bounded(tmp_path: Path):
    bomb = write_png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 100_000  # a small file ...
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(bomb)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    h, w, added_mb = (int(x) for x in out)
    assert (h, w) == (512, 512)
    assert added_mb < BOMB_PEAK_BOUND_MB, f"decoding the bomb added {added_mb} MB"  # ... cheap


def test_png_bomb_decodes_correctly():
    photo = load_photo(png_bomb(), max_side=512)
    assert photo.facts.format == "PNG" and photo.facts.mode == "1"
    assert (photo.facts.width, photo.facts.height) == (BOMB_SIDE, BOMB_SIDE)
    img = photo.image
    assert img.shape == (512, 512, 3)
    assert img[:, :250].max() == 0  # left half black
    assert img[:, 262:].min() == 255  # right half white
    assert 0 < img[:, 255:257].mean() < 255  # the edge falls inside a reduced pixel


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "L", "LA", "1", "I;16"])
def test_reduced_decode_matches_the_full_decode(imagekit, mode, monkeypatch):
    """Strip-wise conversion + reduction gives what the full-size conversion gave (the
    strips are forced here: only images above 40 MP take them)."""
    from smartalbum.imaging import decode

    monkeypatch.setattr(decode, "_STRIPS_ABOVE_PIXELS", 0)
    rgb = imagekit.scene(1500, 1100, seed=3)
    im = Image.fromarray(rgb)
    if mode == "RGBA":
        alpha = np.tile(np.linspace(0, 255, 1500, dtype=np.uint8), (1100, 1))
        im.putalpha(Image.fromarray(alpha))
    elif mode == "I;16":
        im = Image.fromarray(np.asarray(im.convert("L")).astype(np.uint16) * 257)
    else:
        im = im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    data = buf.getvalue()
    photo = load_photo(data, max_side=256)
    # The reference: convert the whole image at full size (the old path), reduce it whole by
    # the same factor (1500 // 256 = 5), shrink to the same final size.
    full = load_photo(data, max_side=4096).image
    reduced = np.asarray(Image.fromarray(full).reduce(5))
    ref = cv2.resize(reduced, (256, 188), interpolation=cv2.INTER_AREA)
    assert photo.image.shape == ref.shape == (188, 256, 3)
    assert np.abs(photo.image.astype(int) - ref.astype(int)).max() <= 1


def test_decode_over_the_budget_is_refused(monkeypatch):
    monkeypatch.setattr(budget_module, "decode_budget", lambda: MemoryBudget(64 * 2**20))
    monkeypatch.setattr("smartalbum.imaging.decode.decode_budget", lambda: MemoryBudget(64 * 2**20))
    with pytest.raises(TooLargeToDecodeError) as info:
        load_photo(png_bomb(), name="bomb.png")
    assert info.value.code == "too_large_to_decode"
    assert info.value.status == 413
    assert "bomb.png" in str(info.value) and "decode_budget_mb" in str(info.value)


def test_the_budget_serialises_two_big_decodes(monkeypatch):
    side = 4000
    data = png_bomb(side)
    cost = decode_cost((side, side), "1", 512)
    shared = MemoryBudget(int(cost * 1.5))  # room for one at a time
    monkeypatch.setattr("smartalbum.imaging.decode.decode_budget", lambda: shared)
    results: list[np.ndarray] = []
    threads = [
        threading.Thread(target=lambda: results.append(load_photo(data, max_side=512).image))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2 and all(r.shape == (512, 512, 3) for r in results)
    assert shared.peak == cost  # never both at once
    assert shared.in_use == 0


def test_memory_budget_waits_and_caps():
    b = MemoryBudget(100)
    order: list[str] = []
    with b.reserve(70):
        t = threading.Thread(target=lambda: b.reserve(70).__enter__() or order.append("second"))
        t.start()
        time.sleep(0.1)
        order.append("first done")
    t.join(5)
    assert order == ["first done", "second"]
    b2 = MemoryBudget(10)
    with b2.reserve(10**9):  # capped at the capacity: a wait always ends
        assert b2.in_use == 10


def test_release_memory_is_safe():
    assert release_memory() in (True, False)


# --------------------------------------------------------------------------- non-files


def test_dev_zero_is_refused_fast():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    start = time.monotonic()
    with pytest.raises(NotARegularFileError) as info:
        load_photo("/dev/zero")
    assert time.monotonic() - start < 2
    assert isinstance(info.value, FileReadError)
    assert info.value.code == "not_a_regular_file" and "character device" in str(info.value)
    with pytest.raises(NotARegularFileError):
        find_photos(["/dev/zero"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path: Path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(NotARegularFileError, match="FIFO"):
        read_photo_file(fifo)
    with pytest.raises(NotARegularFileError):
        load_photo(fifo)
    # inside a folder a FIFO with a photo name is not a photo either
    assert find_photos(tmp_path) == []


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no unix sockets")
def test_socket_is_refused(tmp_path: Path):
    path = tmp_path / "s.png"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        with pytest.raises(NotARegularFileError, match="socket"):
            load_photo(path)


def test_reads_are_bounded_by_the_file_limit(imagekit, tmp_path: Path):
    path = imagekit.write("a.png", imagekit.scene(64, 64))
    size = path.stat().st_size
    data, st = read_photo_file(path, limit=size)
    assert len(data) == size == st.st_size
    with pytest.raises(FileTooLargeError) as info:
        read_photo_file(path, limit=size - 1)
    assert info.value.code == "file_too_large" and info.value.status == 413


def test_file_limit_setting_applies_to_load_photo(imagekit, app_settings, monkeypatch):
    path = imagekit.write("a.png", imagekit.scene(64, 64))
    monkeypatch.setattr("smartalbum.imaging.reading.max_file_bytes", lambda: 100)
    with pytest.raises(FileTooLargeError, match="max_file_mb"):
        load_photo(path)


# --------------------------------------------------------------------------- symlinked folders


def _photo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 20, 20)).save(path)
    return path


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlinked_folder_is_followed_and_each_file_found_once(tmp_path: Path):
    real = tmp_path / "real"
    _photo(real / "a.jpg")
    _photo(real / "deep" / "b.png")
    album = tmp_path / "album"
    _photo(album / "c.jpg")
    (album / "linked").symlink_to(real, target_is_directory=True)
    (album / "again").symlink_to(real, target_is_directory=True)  # same folder twice
    (real / "deep" / "loop").symlink_to(album, target_is_directory=True)  # a loop
    found = find_photos(album, recursive=True)
    assert sorted(p.resolve() for p in found) == sorted(
        [(album / "c.jpg").resolve(), (real / "a.jpg").resolve(), (real / "deep/b.png").resolve()]
    )
    assert find_photos(album / "linked") == [album / "linked" / "a.jpg"]
    # a root that is itself a symlinked folder
    assert len(find_photos(album / "linked", recursive=True)) == 3


def test_nothing_found_says_why(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    _photo(tmp_path / "sub" / "a.jpg")
    (tmp_path / "notes.txt").write_text("x")
    assert "use --recursive" in explain_nothing_found([tmp_path], recursive=False)
    empty = tmp_path / "sub2"
    (empty / "deeper").mkdir(parents=True)
    (empty / "deeper" / "clip.mov").write_bytes(b"x")
    why = explain_nothing_found([empty], recursive=True)
    assert "photo extension" in why and "--recursive" not in why
    hidden = tmp_path / "h"
    _photo(hidden / ".x.jpg")
    assert "hidden" in explain_nothing_found([hidden], recursive=True)
