"""Decode a photo once: fast, at reduced size, upright, plain sRGB-ish RGB, with typed errors.

Every later stage (preprocess, quality, hashes, faces) works on the small upright RGB array
this module returns, so the expensive and error-prone part of reading user files lives in
one place:

* JPEG (and MPO) is decoded at reduced size *inside* libjpeg (``Image.draft``: DCT scaling
  by 1/2, 1/4 or 1/8), never full size then shrunk: a 12 MP photo costs ~20 ms instead of
  ~150 ms and a few MB instead of 36 MB.
* The file is read once; the SHA-256 (the catalog's photo identity) is computed over the same
  bytes that are decoded, so the hash always names exactly the picture that was looked at.
* EXIF orientation is applied, so the network never sees a photo lying on its side.
* Colour modes are normalised (CMYK, grey, 16-bit, palette, alpha -> RGB over white) and an
  embedded ICC profile is converted to sRGB, which is what the model was trained on.
* Other formats (PNG, TIFF, WebP...) decode whole in Pillow, but a big one is converted to
  RGB and reduced strip by strip, and every decode holds its estimated memory from a
  per-process budget (``imaging.decode_budget_mb``): a 20 KB PNG bomb of 169 M pixels costs
  its 169 MB raster, not ~1.7 GB, and sixteen of them take turns.
* Only regular files are read, at most ``imaging.max_file_mb`` (imaging.reading).
* Everything that can go wrong with a user's file becomes a :class:`PhotoError` subclass, so
  the CLI and the web layer never see a raw ``OSError`` from deep inside Pillow.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError

from smartalbum.config import get_settings
from smartalbum.imaging.budget import TRIM_ABOVE_BYTES, decode_budget, release_memory
from smartalbum.imaging.errors import (
    CorruptImageError,
    EmptyFileError,
    NotAnImageError,
    PhotoError,
    TooLargeToDecodeError,
    TooManyPixelsError,
    UnsupportedFormatError,
)
from smartalbum.imaging.jpeg_check import jpeg_damage
from smartalbum.imaging.reading import read_photo_file

try:  # Pillow wheels ship LittleCMS; a build without it just skips colour management.
    from PIL import ImageCms
except ImportError:  # pragma: no cover - depends on how Pillow was built
    ImageCms = None  # type: ignore[assignment]

pillow_heif.register_heif_opener()

#: Formats we decode. Anything else Pillow recognises (PSD, ICO, EPS, TGA, PPM, AVIF...) is
#: refused with UnsupportedFormatError: each plugin is attack surface and none is a photo
#: format a phone or camera writes.
ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF")
# The plugins handed to Image.open: MPO files are recognised by the JPEG plugin.
_OPEN_FORMATS = tuple(f for f in ALLOWED_FORMATS if f != "MPO")

_EXIF_ORIENTATION = 0x0112

# Magic numbers of allowed formats: bytes that start like one of these but that Pillow
# cannot open are a damaged photo (CorruptImageError), not "not an image".
_MAGICS: tuple[tuple[int, bytes], ...] = (
    (0, b"\xff\xd8\xff"),  # JPEG / MPO
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (0, b"II*\x00"),  # TIFF little-endian
    (0, b"MM\x00*"),  # TIFF big-endian
)
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}


@dataclass(frozen=True)
class PhotoFacts:
    """What the original file is, independent of the reduced decode."""

    format: str  # Pillow format name: "JPEG", "PNG", "HEIF", "WEBP", "TIFF", "BMP", "GIF", "MPO"
    width: int  # original size, upright (after EXIF orientation)
    height: int
    sha256: str | None  # hex SHA-256 of the file bytes (None when load_photo was told not to)
    size_bytes: int
    orientation: int  # EXIF orientation tag (1 when absent)
    mode: str  # original Pillow mode ("RGB", "CMYK", "I;16", "P", "RGBA", ...)
    #: Why the decoded picture is probably wrong although it decoded (a JPEG with a forged
    #: size or damaged data, see imaging.jpeg_check); None when nothing was seen.
    damage: str | None = None


@dataclass(frozen=True, eq=False)
class Photo:
    """A decoded photo: H x W x 3 uint8 RGB, upright, longest side <= max_side.

    Compared by identity (``eq=False``): comparing arrays element-wise inside ``==`` would
    be ambiguous; compare ``facts`` (or ``facts.sha256``) to ask "same photo?".
    """

    image: np.ndarray
    facts: PhotoFacts


def load_photo(
    source: str | os.PathLike[str] | bytes,
    *,
    max_side: int | None = None,
    max_pixels: int | None = None,
    name: str | None = None,
    digest: bool | str = True,
) -> Photo:
    """Read, hash and decode a photo from a path or from its bytes.

    ``max_side`` bounds the longest side of the returned image (never upscaled; default
    ``settings.imaging.working_size``); ``max_pixels`` bounds the *declared* size of the
    original, checked before any pixel data is decoded (default
    ``settings.imaging.max_pixels``). Pillow's own ``Image.MAX_IMAGE_PIXELS`` guard
    (2x its value raises) also applies and is reported as TooManyPixelsError.

    ``name`` labels the photo in error messages and ``PhotoError.source`` (e.g. an upload's
    file name when ``source`` is bytes); default: the path, or ``"<bytes>"``.

    ``digest``: True hashes the bytes (SHA-256, ~8 ms for a 4 MB photo); a hex string is a
    hash the caller already computed (the web cache does) and is used as is; False skips
    hashing (``facts.sha256`` is None) for callers that never look at it, such as
    ``smartalbum classify``.

    Raises only :class:`PhotoError` subclasses for bad input: FileReadError (and its
    NotARegularFileError, FileTooLargeError), EmptyFileError, NotAnImageError,
    UnsupportedFormatError, TooManyPixelsError, TooLargeToDecodeError, CorruptImageError.
    A JPEG that decodes although it is damaged is returned with ``facts.damage`` set.
    """
    settings = get_settings().imaging
    max_side = settings.working_size if max_side is None else int(max_side)
    max_pixels = settings.max_pixels if max_pixels is None else int(max_pixels)
    if max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")

    data, name = _read(source, name)
    if not data:
        raise EmptyFileError(f"{name}: the file is empty (0 bytes)", source=name)
    sha = hashlib.sha256(data).hexdigest() if digest is True else (digest or None)

    im = _open(data, name)
    try:
        fmt = im.format or "?"
        if fmt not in ALLOWED_FORMATS:
            raise _unsupported(fmt, name)
        width, height = im.size
        if width * height > max_pixels:
            raise TooManyPixelsError(
                f"{name}: {width}x{height} = {width * height:,} pixels exceeds the limit "
                f"of {max_pixels:,}",
                source=name,
            )
        mode = im.mode
        orientation = _orientation(im)
        if fmt in ("JPEG", "MPO"):
            _request_reduced_jpeg(im, max_side)
        rgb = _decode_within_budget(im, name, max_side)
    finally:
        im.close()

    # libheif has already applied a HEIF's own rotation/mirroring (and size is upright).
    to_apply = 1 if fmt == "HEIF" else orientation
    rgb = _apply_orientation(_fit(rgb, max_side), to_apply)
    if to_apply in (5, 6, 7, 8):
        width, height = height, width
    facts = PhotoFacts(
        format=fmt,
        width=width,
        height=height,
        sha256=sha,
        size_bytes=len(data),
        orientation=orientation,
        mode=mode,
        damage=jpeg_damage(data) if fmt in ("JPEG", "MPO") else None,
    )
    return Photo(image=np.ascontiguousarray(rgb), facts=facts)


# --------------------------------------------------------------------------- reading


def _read(source: str | os.PathLike[str] | bytes, name: str | None) -> tuple[bytes, str]:
    """The file's bytes and a name for messages; unreadable paths become FileReadError."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name or "<bytes>"
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"expected a path or bytes, got {type(source).__name__}")
    name = name or os.fspath(source)
    return read_photo_file(source, name)[0], name


def _unsupported(fmt: str | None, name: str) -> UnsupportedFormatError:
    supported = ", ".join(ALLOWED_FORMATS)
    return UnsupportedFormatError(
        f"{name}: {fmt} images are not supported (supported: {supported})", source=name
    )


def _open(data: bytes, name: str) -> Image.Image:
    """Open the header with the allowed plugins; classify what fails.

    Only allowed plugins get a first look. When none accepts the bytes, a second open with
    every plugin tells a recognised-but-unsupported format (PSD, ICO...) from non-images.
    """
    try:
        with _photo_errors(name, "the image header is damaged", UnidentifiedImageError):
            return _open_with(data, _OPEN_FORMATS)
    except UnidentifiedImageError:
        pass

    try:
        other = _open_with(data, None)
    except Exception:  # noqa: BLE001 - nothing recognises it (or it is damaged as well)
        other = None
    if other is not None:
        fmt = other.format
        other.close()
        raise _unsupported(fmt, name)
    if _looks_like_photo(data):
        raise CorruptImageError(
            f"{name}: looks like an image but cannot be decoded (damaged header)", source=name
        )
    raise NotAnImageError(f"{name}: not an image in any known format", source=name)


@contextmanager
def _photo_errors(name: str, damaged: str, *passthrough: type[BaseException]) -> Iterator[None]:
    """Pillow's failures as PhotoErrors: a bomb is TooManyPixelsError, anything else that
    a plugin raises (OSError "image file is truncated", SyntaxError, ValueError, EOFError,
    struct.error, KeyError...) means damaged data; MemoryError and ``passthrough`` pass."""
    try:
        yield
    except (PhotoError, MemoryError, *passthrough):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooManyPixelsError(f"{name}: {exc}", source=name) from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure means damaged data
        raise CorruptImageError(f"{name}: {damaged} ({exc})", source=name) from exc


def _open_with(data: bytes, formats: tuple[str, ...] | None) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=list(formats) if formats else None)


def _looks_like_photo(data: bytes) -> bool:
    """True when the bytes start with the signature of an allowed format."""
    if any(data[off : off + len(magic)] == magic for off, magic in _MAGICS):
        return True
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1..8); 1 when absent, invalid or the EXIF block is damaged.

    pillow-heif has already rotated HEIF images and removed the tag; it keeps the original
    value in ``info["original_orientation"]``, which we report for information only.
    """
    value: Any
    if im.format == "HEIF":
        value = im.info.get("original_orientation")
    else:
        try:
            value = im.getexif().get(_EXIF_ORIENTATION)
        except Exception:  # noqa: BLE001 - metadata is optional; a broken EXIF block is common
            value = None
    try:
        value = int(value)
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


# --------------------------------------------------------------------------- decoding


#: Bytes per pixel of Pillow's raster by mode (RGB is stored as 4 bytes); others: 4.
_RASTER_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
#: Modes whose conversion to RGB needs the whole image (a global value range): no strips.
_WHOLE_IMAGE_MODES = {"I", "F"}
#: Pixels converted at once on the strip path: bounds the temporary RGB copies (~4 MB each).
_STRIP_PIXELS = 1 << 20
#: Images up to this many pixels are converted whole, exactly as before (and as the mobile
#: bundle's reference.py does): a 12 MP photo costs ~100 MB there. Only larger ones, where
#: the copies would cost gigabytes, take the strip-wise conversion and box reduction.
_STRIPS_ABOVE_PIXELS = 40_000_000


def _whole_image(size: tuple[int, int], mode: str, f: int) -> bool:
    """Whether a decode converts the whole image to RGB at once (no strips)."""
    return f < 2 or mode in _WHOLE_IMAGE_MODES or size[0] * size[1] <= _STRIPS_ABOVE_PIXELS


def reduce_factor(size: tuple[int, int], max_side: int) -> int:
    """The integer factor that shrinks ``size`` to a longest side still >= ``max_side``."""
    return max(1, max(size) // max_side)


def decode_cost(size: tuple[int, int], mode: str, max_side: int) -> int:
    """Bytes a decode of an image of ``size`` and ``mode`` holds at its peak (estimate).

    The raster Pillow decodes into, plus the RGB copies made while converting: of the whole
    image when it is not reduced (or its mode needs the whole image), of one strip and the
    reduced result otherwise (see :func:`_decode_pixels`).
    """
    w, h = size
    raster = w * h * _RASTER_BYTES.get(mode, 4)
    f = reduce_factor(size, max_side)
    if _whole_image(size, mode, f):
        return raster + w * h * 8  # a 4-byte RGB(A) convert and a 3-byte array (+ slack)
    return raster + _STRIP_PIXELS * 8 + (w // f + 1) * (h // f + 1) * 4


def _decode_within_budget(im: Image.Image, name: str, max_side: int) -> np.ndarray:
    """Decode under the process's memory budget: refused when it alone would exceed it,
    waiting while other decodes hold their share, heap trimmed after a big one."""
    cost = decode_cost(im.size, im.mode, max_side)
    budget = decode_budget()
    if cost > budget.capacity:
        w, h = im.size
        raise TooLargeToDecodeError(
            f"{name}: decoding {w}x{h} ({im.mode}) needs about {cost / 2**20:,.0f} MB, more "
            f"than the decode budget of {budget.capacity / 2**20:,.0f} MB "
            "(imaging.decode_budget_mb)",
            source=name,
        )
    try:
        with _photo_errors(name, "the image data is damaged or truncated"), budget.reserve(cost):
            try:
                return _decode_pixels(im, max_side)
            finally:
                im.close()  # free the full-size raster before the reservation ends
    finally:
        if cost > TRIM_ABOVE_BYTES:
            release_memory()


def _decode_pixels(im: Image.Image, max_side: int) -> np.ndarray:
    """Decode, then convert to RGB *and reduce* strip by strip when the image is big.

    Pillow decodes PNG, TIFF, WebP, BMP, GIF and HEIF only whole, so the raster itself
    (1 byte per pixel for 1-bit, grey and palette images, 4 for RGB) cannot be avoided; what
    can be avoided are the full-size copies of the conversion to RGB (3-4 bytes per pixel
    each). A 13000 x 13000 1-bit PNG thus costs its 169 MB raster instead of ~1.7 GB.
    Strips are a multiple of the reduction factor high, so the result equals reducing the
    whole converted image (``Image.reduce``: a box average).
    """
    im.load()
    f = reduce_factor(im.size, max_side)
    if _whole_image(im.size, im.mode, f):
        return _to_rgb_array(im)
    w, h = im.size
    rows = max(f, (_STRIP_PIXELS // max(1, w)) // f * f)
    parts = []
    for y0 in range(0, h, rows):
        strip = im.crop((0, y0, w, min(h, y0 + rows)))
        rgb = _to_rgb_array(strip)
        strip.close()
        parts.append(np.asarray(Image.fromarray(rgb).reduce(f)))
    reduced = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
    # The final size follows from the full size, exactly as without the reduction.
    return cv2.resize(reduced, _fitted_size(w, h, max_side), interpolation=cv2.INTER_AREA)


def _request_reduced_jpeg(im: Image.Image, max_side: int) -> None:
    """Ask libjpeg for the smallest DCT scale (1/2, 1/4, 1/8) keeping longest side >= max_side.

    Pillow picks scale = min(W // w, H // h) rounded down to a power of two, so asking for
    the original size scaled to ``max_side`` never yields an image smaller than that.
    """
    w, h = im.size
    longest = max(w, h)
    if longest <= max_side:
        return
    req = (max(1, -(-w * max_side // longest)), max(1, -(-h * max_side // longest)))
    im.draft("RGB", req)


def _to_rgb_array(im: Image.Image) -> np.ndarray:
    """Any Pillow mode -> H x W x 3 uint8 RGB (sRGB when an ICC profile says how)."""
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        grey = _deep_to_uint8(np.asarray(im), mode)
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    icc = im.info.get("icc_profile")
    if mode == "1":
        im = im.convert("L")
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")  # the profile still applies
    elif mode in ("L", "RGB") and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode == "La":  # premultiplied grey: Pillow only converts it to plain LA
        im = im.convert("LA")
    if im.mode in ("LA", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        # Composite over white in the image's own colour space, then manage colour.
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im).convert("RGB")
        if mode in ("LA", "La"):
            im = im.convert("L")  # keep the grey profile applicable
    if icc:
        im = _apply_icc(im, icc)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im)


def _deep_to_uint8(a: np.ndarray, mode: str) -> np.ndarray:
    """16-bit (or 32-bit int / float) grey -> uint8 by value range, never clipping at 255."""
    if mode in _SIXTEEN_BIT_MODES:
        return (a.astype(np.uint16) >> 8).astype(np.uint8)
    if mode == "F":
        a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        top = float(a.max()) if a.size else 0.0
        if top <= 1.0:
            return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
        a = np.rint(a)
    a = np.clip(a.astype(np.int64), 0, None)
    top = int(a.max()) if a.size else 0
    if top <= 255:  # 8-bit data stored in a wide mode
        return a.astype(np.uint8)
    if top <= 65535:  # 16-bit data (the usual case of mode "I")
        return (a >> 8).astype(np.uint8)
    return (a * 255 // top).astype(np.uint8)


def _apply_icc(im: Image.Image, icc: bytes) -> Image.Image:
    """Convert to sRGB with the embedded profile; unchanged when that is impossible."""
    transform = _icc_transform(icc, im.mode)
    if transform is None:
        return im
    try:
        return ImageCms.applyTransform(im, transform)  # type: ignore[union-attr,return-value]
    except Exception:  # noqa: BLE001 - a profile that LittleCMS rejects: use the raw values
        return im


@lru_cache(maxsize=32)
def _icc_transform(icc: bytes, mode: str) -> Any:
    """A cached LittleCMS transform profile -> sRGB, or None (sRGB already, or unusable)."""
    if ImageCms is None or mode not in ("RGB", "CMYK", "L"):
        return None
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(src).lower().replace(" ", ""):
            return None  # converting sRGB to sRGB would only cost time
        return ImageCms.buildTransform(src, _srgb_profile(), mode, "RGB")
    except Exception:  # noqa: BLE001 - damaged or mismatched profile: fall back quietly
        return None


@lru_cache(maxsize=1)
def _srgb_profile() -> Any:
    return ImageCms.createProfile("sRGB")  # type: ignore[union-attr]


def _fit(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink (INTER_AREA) so the longest side is ``max_side``; never enlarge."""
    h, w = rgb.shape[:2]
    longest = max(h, w)
    if longest <= max_side:
        return rgb
    return cv2.resize(rgb, _fitted_size(w, h, max_side), interpolation=cv2.INTER_AREA)


def _fitted_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    """(width, height) with the longest side ``max_side`` (for a longer original)."""
    scale = max_side / max(w, h)
    return (max(1, round(w * scale)), max(1, round(h * scale)))


def _apply_orientation(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """Turn the stored pixels upright per EXIF orientation (TIFF/EXIF 2.3 semantics).

    The tag says where the stored 0th row and 0th column belong: 2 mirror, 3 rotate 180,
    4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise.
    """
    if orientation == 2:
        return rgb[:, ::-1]
    if orientation == 3:
        return rgb[::-1, ::-1]
    if orientation == 4:
        return rgb[::-1, :]
    if orientation == 5:
        return rgb.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(rgb, k=-1)
    if orientation == 7:
        return rgb[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:
        return np.rot90(rgb, k=1)
    return rgb
