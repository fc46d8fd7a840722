"""Shared fixtures: generated test pictures and the location of the shared data.

Tests never depend on photos checked into the repository: :class:`ImageKit` (fixture
``imagekit``) draws small, deterministic pictures and writes them in any format, with an
EXIF orientation or an ICC profile when asked. The real photos in ``../shared/data`` are
optional: fixtures ``shared_data`` and ``edge_cases`` skip the test when they are absent.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from smartalbum.config import get_settings
from smartalbum.features import load_features

# No test may read or write the real user's data dir (~/.local/share/smartalbum): a test that
# forgets to set one gets a private folder of this test process instead.
os.environ.setdefault("SMARTALBUM_DATA_DIR", tempfile.mkdtemp(prefix="smartalbum-tests-"))


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """get_settings() is read once per process: a test's environment (monkeypatched
    SMARTALBUM_*) must not be hidden by an earlier test's cached settings. Likewise the
    root logger: a test that runs ``serve``/``worker`` code in-process configures it
    (smartalbum.logs), and its handler must not write into a later test's CLI output."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    root.handlers, root.level = handlers, level

load_features()  # as the CLI, the web app and the workers do: tags and faces after indexing

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT / ".." / "shared" / "data"
EDGE_CASES = SHARED_DATA / "edge_cases"

# Colours of the corner blocks of ImageKit.marker(); the bottom-right corner stays grey.
# Three different corners make all eight EXIF orientations distinguishable.
RED = (230, 20, 20)
GREEN = (20, 200, 20)
BLUE = (20, 20, 230)
GREY = (128, 128, 128)

# sRGB primaries adapted to D50 (the ICC connection space), for hand-made ICC profiles.
SRGB_RED_XYZ = (0.4361, 0.2225, 0.0139)
SRGB_GREEN_XYZ = (0.3851, 0.7169, 0.0971)
SRGB_BLUE_XYZ = (0.1431, 0.0606, 0.7141)
_D50 = (0.9642, 1.0, 0.8249)


class ImageKit:
    """Generators for test pictures; ``write`` saves into the test's tmp_path."""

    RED, GREEN, BLUE, GREY = RED, GREEN, BLUE, GREY
    SRGB_RED_XYZ, SRGB_GREEN_XYZ, SRGB_BLUE_XYZ = SRGB_RED_XYZ, SRGB_GREEN_XYZ, SRGB_BLUE_XYZ

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    # ------------------------------------------------------------------ pictures

    @staticmethod
    def marker(width: int, height: int) -> np.ndarray:
        """Upright RGB picture: grey, with red top-left, green top-right, blue bottom-left."""
        image = np.full((height, width, 3), GREY, dtype=np.uint8)
        bh, bw = max(1, height // 4), max(1, width // 4)
        image[:bh, :bw] = RED
        image[:bh, width - bw :] = GREEN
        image[height - bh :, :bw] = BLUE
        return image

    @staticmethod
    def corners(image: np.ndarray) -> dict[str, tuple[int, int, int]]:
        """The colour at the centre of each corner block of a marker() picture."""
        h, w = image.shape[:2]
        y0, x0, y1, x1 = h // 8, w // 8, h - 1 - h // 8, w - 1 - w // 8
        pick = {"top_left": (y0, x0), "top_right": (y0, x1), "bottom_left": (y1, x0)}
        pick["bottom_right"] = (y1, x1)
        return {k: tuple(int(c) for c in image[y, x]) for k, (y, x) in pick.items()}

    @staticmethod
    def scene(width: int, height: int, seed: int = 0, texture: float = 6.0) -> np.ndarray:
        """A photo-like RGB picture: smooth colour field, sharp shapes and fine grain
        (``texture``: noise std in grey levels, as sensor noise or foliage); differs by seed."""
        rng = np.random.default_rng(seed)
        field = rng.integers(30, 226, size=(6, 8, 3), dtype=np.uint8)
        image = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
        unit = max(2, min(width, height) // 8)
        for _ in range(12):
            colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            if rng.random() < 0.5:
                radius = int(rng.integers(unit // 2, unit * 2))
                cv2.circle(image, (x, y), radius, colour, thickness=-1, lineType=cv2.LINE_AA)
            else:
                x2 = x + int(rng.integers(unit // 2, unit * 3))
                y2 = y + int(rng.integers(unit // 2, unit * 3))
                cv2.rectangle(image, (x, y), (x2, y2), colour, thickness=-1)
        if texture > 0:
            grain = rng.normal(0.0, texture, size=(height, width, 1))
            image = np.clip(image + grain, 0, 255).astype(np.uint8)
        return image

    @staticmethod
    def stored_for(upright: np.ndarray, orientation: int) -> np.ndarray:
        """The pixels a camera stores so that displaying them per the EXIF tag is upright.

        EXIF 2.3, tag 0x0112: to display, 2 mirrors, 3 rotates 180, 4 flips, 5 transposes,
        6 rotates 90 clockwise, 7 transverses, 8 rotates 90 counter-clockwise; a camera
        stores the inverse of that. (tests check this against PIL.ImageOps.exif_transpose.)
        """
        inverse: dict[int, Callable[[np.ndarray], np.ndarray]] = {
            1: lambda a: a,
            2: lambda a: a[:, ::-1],
            3: lambda a: a[::-1, ::-1],
            4: lambda a: a[::-1],
            5: lambda a: a.transpose(1, 0, 2),
            6: lambda a: np.rot90(a, 1),  # display turns clockwise, so store turned back
            7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
            8: lambda a: np.rot90(a, -1),
        }
        return np.ascontiguousarray(inverse[orientation](upright))

    # ------------------------------------------------------------------ files

    @staticmethod
    def encode(
        image: np.ndarray | Image.Image,
        fmt: str = "JPEG",
        *,
        orientation: int | None = None,
        **save: Any,
    ) -> bytes:
        """Encode a picture with Pillow; with ``orientation``, store it the camera way."""
        if orientation is not None:
            if not isinstance(image, np.ndarray):
                image = np.asarray(image)
            image = ImageKit.stored_for(image, orientation)
            exif = Image.Exif()
            exif[0x0112] = orientation
            save["exif"] = exif.tobytes()
        pil = Image.fromarray(image) if isinstance(image, np.ndarray) else image
        if fmt in ("HEIF", "AVIF"):
            import pillow_heif

            pillow_heif.register_heif_opener()
        buffer = io.BytesIO()
        pil.save(buffer, format=fmt, **save)
        return buffer.getvalue()

    def write(
        self,
        name: str,
        image: np.ndarray | Image.Image | bytes,
        fmt: str | None = None,
        **kwargs: Any,
    ) -> Path:
        """Write a picture (or raw bytes) to tmp_path/name; format from ``fmt`` or suffix."""
        path = self.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(image, bytes):
            path.write_bytes(image)
            return path
        if fmt is None:
            fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
        path.write_bytes(self.encode(image, fmt, **kwargs))
        return path

    # ------------------------------------------------------------------ colour

    @staticmethod
    def rgb_icc_profile(
        red: tuple[float, float, float] = SRGB_RED_XYZ,
        green: tuple[float, float, float] = SRGB_GREEN_XYZ,
        blue: tuple[float, float, float] = SRGB_BLUE_XYZ,
        gamma: float = 2.2,
        name: str = "Smart Album test RGB",
    ) -> bytes:
        """A minimal ICC v2 matrix/TRC display profile with the given primaries (D50 XYZ).

        Swapping primaries (red=SRGB_GREEN_XYZ, green=SRGB_RED_XYZ) gives a profile under
        which stored red means green: an unmistakable check that the profile was applied.
        """

        def s15(v: float) -> bytes:
            return struct.pack(">i", round(v * 65536))

        def xyz(v: tuple[float, float, float]) -> bytes:
            return b"XYZ \0\0\0\0" + b"".join(s15(c) for c in v)

        curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
        text = name.encode("ascii") + b"\0"
        desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0" * 70
        tags = [
            (b"desc", desc),
            (b"wtpt", xyz(_D50)),
            (b"rXYZ", xyz(red)),
            (b"gXYZ", xyz(green)),
            (b"bXYZ", xyz(blue)),
            (b"rTRC", curve),
            (b"gTRC", curve),
            (b"bTRC", curve),
            (b"cprt", b"text\0\0\0\0none\0"),
        ]
        offset = 128 + 4 + 12 * len(tags)
        table, body = struct.pack(">I", len(tags)), b""
        for sig, data in tags:
            body += b"\0" * (-(offset + len(body)) % 4)
            table += sig + struct.pack(">II", offset + len(body), len(data))
            body += data
        header = (
            struct.pack(">I", offset + len(body))
            + b"none"
            + bytes([2, 0x10, 0, 0])
            + b"mntrRGB XYZ "
            + b"\0" * 12  # date
            + b"acsp"
            + b"\0" * 24  # platform, flags, manufacturer, model, attributes
            + b"\0" * 4  # rendering intent
            + b"".join(s15(c) for c in _D50)
            + b"\0" * 48  # creator, id, reserved
        )
        assert len(header) == 128
        return header + table + body


# --------------------------------------------------------------------------- the tiny bundle


def _tree_digest(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes (the bundle is ~200 KB)."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="session")
def tiny_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tiny bundle (tests/bundles.py: heads ``colours`` and ``strict``), built once per
    session and shared by every test: read it, never change it. A test that writes into
    its bundle takes :func:`tiny_bundle_copy`. A change is caught at the end of the session
    (tests run as root here, so file modes cannot enforce it)."""
    from bundles import make_tiny_bundle

    path = tmp_path_factory.mktemp("bundle") / "tiny"
    make_tiny_bundle(path)
    before = _tree_digest(path)
    yield path
    assert _tree_digest(path) == before, "a test changed the shared tiny bundle"


@pytest.fixture
def tiny_bundle_copy(tiny_bundle_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny bundle under this test's tmp_path, free to change."""
    return Path(shutil.copytree(tiny_bundle_dir, tmp_path / "bundle"))


@pytest.fixture
def app_settings(tmp_path: Path, tiny_bundle_dir: Path) -> Callable[..., Any]:
    """``app_settings(jobs={"chunk_size": 4}, model={"batch_size": 4}, ...)``: Settings for a
    test app: data dir and SQLite catalog under tmp_path (never a SMARTALBUM_DATABASE_URL
    from the environment), the tiny bundle on one thread, no rate limit. The ``model`` and
    ``web`` given are merged over those defaults; other sections are passed as they are."""
    from smartalbum.config import Settings

    def make(**sections: Any) -> Settings:
        model = {"bundle": tiny_bundle_dir, "threads": 1, **sections.pop("model", {})}
        web = {"rate_limit": "", **sections.pop("web", {})}
        return Settings(
            data_dir=tmp_path / "data",
            database_url=f"sqlite:///{tmp_path / 'data' / 'catalog.sqlite3'}",
            model=model,
            web=web,
            **sections,
        )

    return make


@pytest.fixture
def imagekit(tmp_path: Path) -> ImageKit:
    """Picture generators that write into this test's tmp_path."""
    return ImageKit(tmp_path)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (real photos); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not available at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def edge_cases() -> Path:
    """../shared/data/edge_cases (odd real files); skipped when absent."""
    if not EDGE_CASES.is_dir():
        pytest.skip(f"edge-case photos not available at {EDGE_CASES}")
    return EDGE_CASES


# --------------------------------------------------------------------------- browser

CHROMIUM = Path("/usr/bin/chromium")


def browser_unavailable(reason: str) -> None:
    """Skip, except under CI=true, where a missing browser is a failure: CI must run these."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by playwright (``playwright install`` cannot work
    offline, so the system browser is used)."""
    if not CHROMIUM.exists():
        browser_unavailable(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("playwright is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()
