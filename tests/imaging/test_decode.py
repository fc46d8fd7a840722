"""load_photo: orientation, reduced-size JPEG decode, colour modes, formats, typed errors."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps, JpegImagePlugin

from smartalbum.imaging import (
    CorruptImageError,
    EmptyFileError,
    FileReadError,
    NotAnImageError,
    Photo,
    PhotoError,
    TooManyPixelsError,
    UnsupportedFormatError,
    load_photo,
)
from smartalbum.imaging import decode as decode_module

EDGE_CASES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "edge_cases"
EDGE_FILES = sorted(p for p in EDGE_CASES.rglob("*") if p.is_file()) if EDGE_CASES.is_dir() else []
ORIENTATIONS = range(1, 9)


def close(pixel, colour, tol: int = 40) -> bool:
    return all(abs(int(a) - int(b)) <= tol for a, b in zip(pixel, colour, strict=True))


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def assert_sane(photo: Photo, max_side: int = 512) -> None:
    image = photo.image
    assert isinstance(image, np.ndarray)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.flags["C_CONTIGUOUS"]
    assert 1 <= max(image.shape[:2]) <= max_side
    assert photo.facts.width >= image.shape[1] and photo.facts.height >= image.shape[0]
    assert 1 <= photo.facts.orientation <= 8


# --------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_orientation_fixture_agrees_with_pillow(imagekit, orientation):
    """The generator stores pictures the way Pillow's reference transpose undoes."""
    upright = imagekit.marker(60, 40)
    data = imagekit.encode(upright, "PNG", orientation=orientation)
    restored = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    np.testing.assert_array_equal(restored, upright)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
@pytest.mark.parametrize(("width", "height"), [(160, 96), (96, 160)])
def test_orientation_marker_ends_up_top_left(imagekit, orientation, width, height):
    upright = imagekit.marker(width, height)
    path = imagekit.write(f"o{orientation}.jpg", upright, orientation=orientation, quality=95)
    photo = load_photo(path)
    assert photo.image.shape == (height, width, 3)
    assert (photo.facts.width, photo.facts.height) == (width, height)
    assert photo.facts.orientation == orientation
    corners = imagekit.corners(photo.image)
    assert close(corners["top_left"], imagekit.RED), corners
    assert close(corners["top_right"], imagekit.GREEN), corners
    assert close(corners["bottom_left"], imagekit.BLUE), corners
    assert close(corners["bottom_right"], imagekit.GREY), corners


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_applies_with_reduced_decode(imagekit, orientation):
    upright = imagekit.marker(1600, 1000)
    path = imagekit.write("big.jpg", upright, orientation=orientation, quality=90)
    photo = load_photo(path, max_side=200)
    assert photo.image.shape == (125, 200, 3)
    assert (photo.facts.width, photo.facts.height) == (1600, 1000)
    corners = imagekit.corners(photo.image)
    assert close(corners["top_left"], imagekit.RED), corners
    assert close(corners["bottom_left"], imagekit.BLUE), corners


def test_orientation_in_webp_and_png_exif(imagekit):
    upright = imagekit.marker(80, 48)
    for fmt in ("WEBP", "PNG"):
        save = {"lossless": True} if fmt == "WEBP" else {}
        photo = load_photo(imagekit.encode(upright, fmt, orientation=6, **save))
        assert photo.facts.orientation == 6
        np.testing.assert_array_equal(photo.image, upright)


@pytest.mark.parametrize("subject", ["landscape", "portrait"])
def test_shared_orientation_set_all_upright(edge_cases, subject):
    folder = edge_cases / "orientation"
    paths = [folder / f"{subject}_{i}.jpg" for i in ORIENTATIONS]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"{subject}_1..8.jpg not all present")
    photos = [load_photo(p) for p in paths]
    assert len({p.image.shape for p in photos}) == 1
    assert len({(p.facts.width, p.facts.height) for p in photos}) == 1
    assert [p.facts.orientation for p in photos] == list(ORIENTATIONS)
    reference = photos[0].image
    diffs = [mean_abs(p.image, reference) for p in photos[1:]]
    # Same picture up to JPEG noise (and ICC conversion: 2..8 carry a gamma-1.8 profile);
    # a mirrored copy, i.e. a wrong orientation, differs several times more.
    wrong = min(mean_abs(reference[:, ::-1], reference), mean_abs(reference[::-1], reference))
    assert max(diffs) < 8, diffs
    assert wrong > 4 * max(diffs), (wrong, diffs)


def test_shared_hopper_orientation_6_matches_upright_png(edge_cases):
    png = edge_cases / "png" / "hopper.png"
    rotated = [edge_cases / "orientation" / "hopper_orientation_6.jpg"]
    rotated.append(edge_cases / "webp" / "hopper_orientation_6.webp")
    if not png.is_file() or not all(p.is_file() for p in rotated):
        pytest.skip("hopper files not present")
    reference = load_photo(png).image
    for path in rotated:
        image = load_photo(path).image
        assert image.shape == reference.shape
        assert mean_abs(image, reference) < 8, path
        assert mean_abs(np.rot90(image), reference) > 20  # a wrong turn would be visible


# --------------------------------------------------------------------------- reduced decode


def test_big_jpeg_is_decoded_reduced_inside_libjpeg(imagekit, monkeypatch):
    calls = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        full = self.size
        result = original(self, mode, size)
        calls.append({"mode": mode, "requested": size, "full": full, "decoded": self.size})
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    big = cv2.resize(imagekit.scene(400, 300, seed=3), (4000, 3000))
    path = imagekit.write("12mp.jpg", big, quality=85)

    photo = load_photo(path, max_side=512)

    assert photo.image.shape == (384, 512, 3)
    assert (photo.facts.width, photo.facts.height) == (4000, 3000)
    assert len(calls) == 1
    call = calls[0]
    assert call["full"] == (4000, 3000)
    assert max(call["requested"]) <= 512
    # libjpeg scaled by 1/4 (1/8 would be 500 px, below max_side): never the full 12 MP.
    assert call["decoded"] == (1000, 750)
    # The result is the same picture as a full decode shrunk the slow way.
    slow = cv2.resize(np.asarray(Image.open(path).convert("RGB")), (512, 384), interpolation=3)
    assert mean_abs(photo.image, slow) < 3


def test_reduced_decode_uses_one_eighth_when_possible(imagekit, monkeypatch):
    decoded = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    path = imagekit.write("big.jpg", imagekit.scene(2000, 1200, seed=1), quality=85)
    photo = load_photo(path, max_side=250)
    assert decoded == [(250, 150)]
    assert photo.image.shape == (150, 250, 3)


def test_small_images_are_never_upscaled(imagekit):
    path = imagekit.write("small.jpg", imagekit.scene(120, 90))
    assert load_photo(path, max_side=512).image.shape == (90, 120, 3)


def test_max_side_defaults_to_settings(imagekit, monkeypatch):
    from smartalbum.config import get_settings

    path = imagekit.write("p.png", imagekit.scene(300, 200))
    monkeypatch.setenv("SMARTALBUM_IMAGING__WORKING_SIZE", "150")
    get_settings.cache_clear()
    try:
        assert load_photo(path).image.shape == (100, 150, 3)
    finally:
        monkeypatch.delenv("SMARTALBUM_IMAGING__WORKING_SIZE")
        get_settings.cache_clear()
    assert load_photo(path).image.shape == (200, 300, 3)


# --------------------------------------------------------------------------- facts and sources


def test_facts_and_bytes_source(imagekit):
    upright = imagekit.scene(64, 48)
    path = imagekit.write("a.png", upright)
    data = path.read_bytes()
    from_path, from_bytes = load_photo(path), load_photo(data)
    for photo in (from_path, from_bytes):
        assert photo.facts.sha256 == hashlib.sha256(data).hexdigest()
        assert photo.facts.size_bytes == len(data)
        assert photo.facts.format == "PNG" and photo.facts.mode == "RGB"
        assert photo.facts.orientation == 1
        np.testing.assert_array_equal(photo.image, upright)
    assert load_photo(os.fspath(path)).facts == from_path.facts


def test_name_labels_errors_and_photos_compare_by_identity(imagekit):
    with pytest.raises(NotAnImageError) as info:
        load_photo(b"plain text", name="upload.jpg")
    assert info.value.source == "upload.jpg" and "upload.jpg" in str(info.value)
    with pytest.raises(NotAnImageError) as info:
        load_photo(b"plain text")
    assert info.value.source == "<bytes>"
    data = imagekit.encode(imagekit.scene(20, 10), "PNG")
    a, b = load_photo(data), load_photo(data)
    assert a != b and a.facts == b.facts


def test_png_bytes_behind_jpg_name(imagekit):
    upright = imagekit.scene(50, 40)
    path = imagekit.write("really_png.jpg", upright, fmt="PNG")
    photo = load_photo(path)
    assert photo.facts.format == "PNG"
    np.testing.assert_array_equal(photo.image, upright)


# --------------------------------------------------------------------------- colour modes


def test_cmyk_jpeg_red_loads_red(imagekit):
    cmyk = Image.new("CMYK", (64, 48), (0, 255, 255, 0))
    photo = load_photo(imagekit.encode(cmyk, "JPEG", quality=95))
    assert photo.facts.mode == "CMYK"
    assert close(photo.image[24, 32], (255, 0, 0), tol=20)


def test_cmyk_tiff_colours(imagekit):
    cmyk = Image.new("CMYK", (32, 32), (255, 0, 255, 0))  # cyan + yellow = green
    photo = load_photo(imagekit.encode(cmyk, "TIFF"))
    assert photo.facts.mode == "CMYK" and photo.facts.format == "TIFF"
    assert close(photo.image[5, 5], (0, 255, 0), tol=5)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_grayscale(imagekit, fmt):
    grey = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (32, 1))
    save = {"quality": 95} if fmt == "JPEG" else {}
    photo = load_photo(imagekit.encode(grey, fmt, **save))
    assert photo.facts.mode == "L"
    image = photo.image.astype(int)
    assert (image == image[..., :1]).all()  # R == G == B
    assert np.abs(image[..., 0] - grey).max() <= 6


def test_bilevel_png(imagekit):
    bits = Image.fromarray(np.kron([[0, 1], [1, 0]], np.ones((8, 8))).astype(bool))
    photo = load_photo(imagekit.encode(bits, "PNG"))
    assert photo.facts.mode == "1"
    assert tuple(photo.image[0, 0]) == (0, 0, 0) and tuple(photo.image[0, 15]) == (255, 255, 255)


def test_16bit_grey_png_gradient_is_scaled_not_clipped(imagekit):
    gradient = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))
    path = imagekit.directory / "g16.png"
    Image.fromarray(gradient).save(path)
    photo = load_photo(path)
    assert photo.facts.mode.startswith("I")
    row = photo.image[8, :, 0].astype(int)
    assert row.min() <= 2 and row.max() >= 253
    assert np.all(np.diff(row) >= 0)
    assert np.abs(row - (gradient[8] >> 8)).max() <= 1
    assert len(np.unique(row)) > 200  # spread over the range, not a wall of 255


@pytest.mark.parametrize(("ext", "channels"), [(".tif", 1), (".png", 3), (".tif", 3)])
def test_16bit_files_written_by_opencv(imagekit, ext, channels):
    ramp = np.linspace(0, 65535, 200).astype(np.uint16)
    data = np.tile(ramp, (10, 1))
    if channels == 3:
        data = np.dstack([data, data // 2, 65535 - data])  # OpenCV order: B, G, R
    path = imagekit.directory / f"deep{ext}"
    assert cv2.imwrite(str(path), data)
    photo = load_photo(path)
    image = photo.image.astype(int)
    expected = (data >> 8).astype(int)
    if channels == 1:
        assert np.abs(image[..., 0] - expected).max() <= 1
    else:
        assert np.abs(image[..., ::-1] - expected).max() <= 1
    assert image.max() >= 250 and image.min() <= 5


def test_32bit_int_tiff_scaled(imagekit):
    data = np.tile(np.linspace(0, 65535, 128).astype(np.int32), (4, 1))
    photo = load_photo(imagekit.encode(Image.fromarray(data, mode="I"), "TIFF"))
    assert photo.facts.mode == "I"
    assert np.abs(photo.image[0, :, 0].astype(int) - (data[0] >> 8)).max() <= 1


@pytest.mark.parametrize("mode", ["I;16B", "I;16"])
def test_16bit_tiff_modes(imagekit, mode):
    ramp = np.linspace(0, 65535, 100).astype(np.uint16)
    data = np.tile(ramp, (4, 1))
    if mode == "I;16B":  # big-endian 16 bit, as some scanners write
        image = Image.frombytes(mode, (100, 4), data.astype(">u2").tobytes())
    else:
        image = Image.fromarray(data)
    photo = load_photo(imagekit.encode(image, "TIFF"))
    assert photo.facts.mode == mode
    assert np.abs(photo.image[1, :, 0].astype(int) - (ramp >> 8)).max() <= 1


def test_float_tiff_in_unit_range(imagekit):
    values = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (4, 1))
    photo = load_photo(imagekit.encode(Image.fromarray(values, mode="F"), "TIFF"))
    assert photo.facts.mode == "F"
    row = photo.image[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and np.all(np.diff(row) >= 0)


@pytest.mark.parametrize("mode", ["YCbCr", "LAB"])
def test_other_colour_spaces_in_tiff(imagekit, mode):
    upright = imagekit.scene(40, 30)
    converted = Image.fromarray(upright).convert(mode)
    photo = load_photo(imagekit.encode(converted, "TIFF"))
    assert photo.facts.mode == mode
    np.testing.assert_array_equal(photo.image, np.asarray(converted.convert("RGB")))


def test_palette_with_transparency_over_white(imagekit):
    pal = Image.new("P", (32, 16), 0)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.paste(1, (16, 0, 32, 16))
    for fmt in ("PNG", "GIF"):
        photo = load_photo(imagekit.encode(pal, fmt, transparency=0))
        assert photo.facts.mode == "P"
        assert tuple(photo.image[8, 4]) == (255, 255, 255), fmt  # index 0: transparent
        assert tuple(photo.image[8, 24]) == (0, 0, 255), fmt


def test_palette_without_transparency(imagekit):
    pal = Image.fromarray(imagekit.scene(40, 30)).convert("P")
    photo = load_photo(imagekit.encode(pal, "PNG"))
    np.testing.assert_array_equal(photo.image, np.asarray(pal.convert("RGB")))


def test_rgba_composited_over_white(imagekit):
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[:, :10] = (255, 0, 0, 0)  # fully transparent red -> white
    rgba[:, 10:20] = (255, 0, 0, 128)  # half red over white -> pink
    rgba[:, 20:] = (0, 0, 255, 255)  # opaque blue
    photo = load_photo(imagekit.encode(rgba, "PNG"))
    assert photo.facts.mode == "RGBA"
    assert tuple(photo.image[5, 5]) == (255, 255, 255)
    assert close(photo.image[5, 15], (255, 127, 127), tol=2)
    assert tuple(photo.image[5, 25]) == (0, 0, 255)


def test_la_composited_over_white(imagekit):
    la = np.zeros((10, 20, 2), dtype=np.uint8)
    la[:, 10:] = (40, 255)
    photo = load_photo(imagekit.encode(Image.fromarray(la, mode="LA"), "PNG"))
    assert tuple(photo.image[5, 2]) == (255, 255, 255)
    assert tuple(photo.image[5, 15]) == (40, 40, 40)


def test_icc_profile_is_applied(imagekit):
    """A profile with red and green primaries swapped: stored red *means* green."""
    icc = imagekit.rgb_icc_profile(red=imagekit.SRGB_GREEN_XYZ, green=imagekit.SRGB_RED_XYZ)
    stored = np.zeros((16, 48, 3), dtype=np.uint8)
    stored[:, :16] = (255, 0, 0)
    stored[:, 16:32] = (128, 128, 128)
    stored[:, 32:] = (0, 0, 255)
    photo = load_photo(imagekit.encode(stored, "PNG", icc_profile=icc))
    assert close(photo.image[8, 8], (0, 255, 0), tol=10)
    assert close(photo.image[8, 24], (128, 128, 128), tol=6)
    assert close(photo.image[8, 40], (0, 0, 255), tol=10)


def test_broken_or_srgb_icc_profile_leaves_pixels(imagekit):
    from PIL import ImageCms

    stored = imagekit.scene(40, 30)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for icc in (b"not a profile" * 8, srgb):
        photo = load_photo(imagekit.encode(stored, "PNG", icc_profile=icc))
        np.testing.assert_array_equal(photo.image, stored)


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("fmt", "save", "exact"),
    [
        ("PNG", {}, True),
        ("WEBP", {"lossless": True}, True),
        ("WEBP", {"quality": 90}, False),
        ("TIFF", {}, True),
        ("TIFF", {"compression": "tiff_lzw"}, True),
        ("BMP", {}, True),
        ("JPEG", {"quality": 95}, False),
        ("JPEG", {"quality": 95, "progressive": True}, False),
        ("HEIF", {"quality": 95}, False),
    ],
)
def test_formats(imagekit, fmt, save, exact):
    upright = imagekit.scene(96, 64, seed=5)
    photo = load_photo(imagekit.encode(upright, fmt, **save))
    assert photo.facts.format == fmt
    assert (photo.facts.width, photo.facts.height) == (96, 64)
    assert_sane(photo)
    if exact:
        np.testing.assert_array_equal(photo.image, upright)
    else:
        assert mean_abs(photo.image, upright) < 6


def test_heif_written_by_pillow_heif(imagekit):
    upright = imagekit.marker(120, 80)
    path = imagekit.write("photo.heic", upright, fmt="HEIF", quality=90)
    photo = load_photo(path, max_side=60)
    assert photo.facts.format == "HEIF"
    assert (photo.facts.width, photo.facts.height) == (120, 80)
    assert photo.image.shape == (40, 60, 3)
    assert close(imagekit.corners(photo.image)["top_left"], imagekit.RED)


def test_gif_first_frame(imagekit):
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = imagekit.encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    photo = load_photo(data)
    assert photo.facts.format == "GIF"
    assert close(photo.image[10, 10], (255, 0, 0), tol=5)


def test_mpo_first_frame(imagekit):
    left = Image.fromarray(imagekit.marker(80, 60))
    right = Image.new("RGB", (80, 60), (0, 0, 255))
    data = imagekit.encode(left, "MPO", save_all=True, append_images=[right], quality=95)
    photo = load_photo(data)
    assert photo.facts.format == "MPO"
    corners = imagekit.corners(photo.image)
    assert close(corners["top_left"], imagekit.RED) and close(corners["top_right"], imagekit.GREEN)


def test_mpo_reduced_decode(imagekit):
    left = Image.fromarray(cv2.resize(imagekit.marker(80, 60), (1600, 1200)))
    data = imagekit.encode(left, "MPO", save_all=True, append_images=[left], quality=90)
    photo = load_photo(data, max_side=200)
    assert photo.facts.format == "MPO" and photo.image.shape == (150, 200, 3)


# --------------------------------------------------------------------------- errors


def test_empty_file(imagekit):
    path = imagekit.write("empty.jpg", b"")
    with pytest.raises(EmptyFileError) as info:
        load_photo(path)
    assert info.value.source == str(path)
    with pytest.raises(EmptyFileError):
        load_photo(b"")


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is a text file\n" * 20,
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n",
        np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>",
    ],
    ids=["text", "pdf", "random", "svg"],
)
def test_not_an_image(imagekit, data):
    path = imagekit.write("file.jpg", data)
    with pytest.raises(NotAnImageError) as info:
        load_photo(path)
    assert info.value.source == str(path)
    assert info.value.to_dict()["code"] == "not_an_image"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF", "TIFF", "GIF"])
def test_truncated_image_is_corrupt(imagekit, fmt):
    data = imagekit.encode(imagekit.scene(200, 150, seed=2), fmt)
    with pytest.raises(CorruptImageError):
        load_photo(data[: len(data) // 2])


def test_truncated_big_jpeg_on_reduced_path(imagekit):
    data = imagekit.encode(cv2.resize(imagekit.scene(100, 75), (1600, 1200)), "JPEG")
    with pytest.raises(CorruptImageError):
        load_photo(data[: int(len(data) * 0.8)], max_side=100)


def test_header_only_jpeg_is_corrupt_not_unknown(imagekit):
    data = imagekit.encode(imagekit.scene(64, 48), "JPEG")
    with pytest.raises(CorruptImageError):
        load_photo(data[:40])


def test_too_many_pixels_checked_before_decoding(imagekit, monkeypatch):
    path = imagekit.write("p.png", imagekit.scene(64, 48))
    loads = []
    monkeypatch.setattr(Image.Image, "load", lambda self: loads.append(self) or None)
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self) or None)
    with pytest.raises(TooManyPixelsError) as info:
        load_photo(path, max_pixels=64 * 48 - 1)
    assert info.value.source == str(path)
    assert loads == []


def test_declared_giant_png_is_refused_without_decoding(imagekit):
    """A PNG header claiming 100000 x 100000 pixels (a decompression bomb) over tiny data."""
    data = imagekit.encode(imagekit.scene(8, 8), "PNG")
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    bomb = data[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    bomb += data[8 + 25 :]
    with pytest.raises(TooManyPixelsError):
        load_photo(bomb)
    with pytest.raises(TooManyPixelsError):
        load_photo(bomb, max_pixels=10**12)  # Pillow's own bomb guard still applies


def test_max_pixels_allows_exact_limit(imagekit):
    data = imagekit.encode(imagekit.scene(64, 48), "PNG")
    assert load_photo(data, max_pixels=64 * 48).image.shape == (48, 64, 3)


@pytest.mark.parametrize("fmt", ["ICO", "TGA", "PPM", "PCX", "EPS", "QOI", "AVIF"])
def test_recognised_but_unsupported_formats(imagekit, fmt):
    try:
        data = imagekit.encode(imagekit.scene(32, 32), fmt)
    except (OSError, KeyError, ValueError) as exc:  # a Pillow build without that writer
        pytest.skip(f"Pillow cannot write {fmt}: {exc}")
    with pytest.raises(UnsupportedFormatError) as info:
        load_photo(data)
    assert fmt in str(info.value) or info.value.code == "unsupported_format"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileReadError) as info:
        load_photo(tmp_path / "nope.jpg")
    assert isinstance(info.value, PhotoError)
    assert info.value.code == "file_unreadable"
    assert info.value.source == str(tmp_path / "nope.jpg")
    with pytest.raises(FileReadError):
        load_photo(tmp_path)


@pytest.mark.parametrize(
    "error", [PermissionError(13, "Permission denied"), OSError(5, "Input/output error")]
)
def test_unreadable_file(imagekit, monkeypatch, error):
    path = imagekit.write("secret.png", imagekit.scene(8, 8))

    real_open = os.open

    def refuse(file, *args, **kwargs):
        if os.fspath(file) == str(path):
            raise error
        return real_open(file, *args, **kwargs)

    # chmod 000 does not stop root: the open itself fails (photos are read via os.open).
    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(FileReadError) as info:
        load_photo(path)
    assert info.value.source == str(path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF"])
def test_damaged_bytes_never_escape_as_other_errors(imagekit, fmt):
    """Flip bytes all over valid files: each either decodes sanely or raises a PhotoError."""
    data = bytearray(imagekit.encode(imagekit.scene(48, 32, seed=9), fmt))
    rng = np.random.default_rng(len(data))
    for _ in range(12):
        damaged = bytearray(data)
        for pos in rng.integers(0, len(damaged), size=int(rng.integers(1, 8))):
            damaged[int(pos)] = int(rng.integers(0, 256))
        try:
            photo = load_photo(bytes(damaged))
        except PhotoError:
            continue
        assert_sane(photo)


def test_decode_module_allow_list():
    expected = {"JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF"}
    assert set(decode_module.ALLOWED_FORMATS) == expected


# --------------------------------------------------------------------------- shared edge cases


@pytest.mark.parametrize(
    "path", EDGE_FILES, ids=[str(p.relative_to(EDGE_CASES)) for p in EDGE_FILES]
)
def test_every_edge_case_loads_or_raises_typed(path):
    try:
        photo = load_photo(path)
    except PhotoError as exc:
        assert exc.source == str(path)
        return
    assert_sane(photo)
    assert photo.facts.format in decode_module.ALLOWED_FORMATS
    assert photo.image.std() > 1 or max(photo.image.shape) < 16  # a picture, not flat grey


def test_edge_case_truncated_jpeg_is_corrupt(edge_cases):
    path = edge_cases / "broken" / "truncated_jpeg.jpg"
    if not path.is_file():
        pytest.skip("truncated_jpeg.jpg not present")
    with pytest.raises(CorruptImageError):
        load_photo(path)


def test_edge_case_iphone_heic(edge_cases):
    path = edge_cases / "heic" / "IMG_5195.HEIC"
    if not path.is_file():
        pytest.skip("IMG_5195.HEIC not present")
    photo = load_photo(path)
    assert photo.facts.format == "HEIF"
    assert (photo.facts.width, photo.facts.height) == (2566, 3313)  # portrait, upright
    assert photo.image.shape == (512, 397, 3)
    assert photo.facts.orientation == 1
    assert photo.image.std() > 10


def test_edge_case_derived_variants_agree(edge_cases):
    """One photo saved as CMYK JPEG, progressive, lossy WebP, RGBA PNG and PNG-as-.jpg."""
    folder = edge_cases / "derived"
    paths = sorted(folder.glob("derived_*")) if folder.is_dir() else []
    if len(paths) < 2:
        pytest.skip("derived variants not present")
    photos = {p.name: load_photo(p) for p in paths}
    reference = photos[paths[0].name].image
    for name, photo in photos.items():
        assert photo.image.shape == reference.shape, name
        assert mean_abs(photo.image, reference) < 10, name
    wrong_ext = photos.get("derived_wrong_extension_png.jpg")
    if wrong_ext is not None:
        assert wrong_ext.facts.format == "PNG"


def test_digest_option_skips_or_reuses_the_hash(tmp_path):
    import hashlib

    from PIL import Image

    from smartalbum.imaging import load_photo

    path = tmp_path / "p.png"
    Image.new("RGB", (20, 10), (1, 2, 3)).save(path)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_photo(path).facts.sha256 == expected
    assert load_photo(path, digest=False).facts.sha256 is None
    assert load_photo(path, digest="cafe").facts.sha256 == "cafe"
