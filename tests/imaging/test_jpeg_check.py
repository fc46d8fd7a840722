"""JPEGs that decode but are damaged: a forged size header, damaged compressed data.

libjpeg fills what is missing with grey and only warns (Pillow drops the warning), so
these classified silently (issue 16, item 7); now the photo keeps its label and its facts
say why the picture is probably wrong.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from smartalbum.cli import main
from smartalbum.imaging import load_photo
from smartalbum.imaging.jpeg_check import jpeg_damage


def _jpeg(**options) -> bytes:
    base = (np.indices((480, 640)).sum(0) % 255).astype(np.uint8)
    img = np.stack([base, base[::-1], np.full_like(base, 90)], -1)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=85, **options)
    return buf.getvalue()


def _forge_size(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    sof = next(i for i in range(len(out) - 1) if out[i] == 0xFF and out[i + 1] in (0xC0, 0xC2))
    out[sof + 5 : sof + 7] = height.to_bytes(2, "big")
    out[sof + 7 : sof + 9] = width.to_bytes(2, "big")
    return bytes(out)


@pytest.mark.parametrize(
    "options", [{}, {"progressive": True}, {"subsampling": 0}, {"optimize": True}]
)
def test_good_jpegs_are_not_flagged(options):
    data = _jpeg(**options)
    assert jpeg_damage(data) is None
    assert load_photo(data).facts.damage is None


@pytest.mark.parametrize("options", [{}, {"progressive": True}])
def test_forged_size_header_is_flagged_and_still_decodes(options):
    forged = _forge_size(_jpeg(**options), 4000, 3000)
    photo = load_photo(forged)
    assert (photo.facts.width, photo.facts.height) == (4000, 3000)
    assert photo.image.shape == (384, 512, 3)  # decoded, as before
    assert photo.facts.damage and "cannot hold 4000x3000" in photo.facts.damage


def test_invalid_marker_in_the_compressed_data_is_flagged():
    data = bytearray(_jpeg())
    sos = data.find(b"\xff\xda")
    data[sos + 200 : sos + 202] = b"\xff\x55"
    assert "invalid marker 0x55" in (jpeg_damage(bytes(data)) or "")


def test_restart_markers_out_of_order_are_flagged():
    data = _jpeg(restart_marker_blocks=4)
    assert jpeg_damage(data) is None
    first = data.find(b"\xff\xd1")
    assert first > 0
    damaged = data[:first] + b"\xff\xd5" + data[first + 2 :]
    assert "restart markers out of order" in (jpeg_damage(damaged) or "")


def test_shared_jpegs_are_not_flagged(edge_cases: Path):
    for path in edge_cases.rglob("*.jp*g"):
        if path.name != "truncated_jpeg.jpg":
            assert jpeg_damage(path.read_bytes()) is None, path


def test_classify_keeps_the_label_with_a_warning(tmp_path: Path, tiny_bundle_dir: Path):
    (tmp_path / "forged.jpg").write_bytes(_forge_size(_jpeg(), 4000, 3000))
    result = CliRunner().invoke(
        main, ["classify", str(tmp_path), "--bundle", str(tiny_bundle_dir), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    row = json.loads(next(x for x in result.output.splitlines() if x.startswith("{")))
    assert row["label"] and row["error"] is None
    assert "forged size" in row["warning"]
    table = CliRunner().invoke(main, ["classify", str(tmp_path), "--bundle", str(tiny_bundle_dir)])
    assert "damaged:" in table.output
