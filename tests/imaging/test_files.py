"""find_photos: expanding the paths a user names into photo files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smartalbum.imaging.files import IMAGE_EXTENSIONS, find_photos


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


@pytest.fixture
def album(tmp_path: Path) -> Path:
    touch(
        tmp_path,
        "b.jpg",
        "a.JPEG",
        "c.heic",
        "d.png",
        "e.webp",
        "notes.txt",
        "clip.mov",
        ".hidden.jpg",
        "sub/f.tif",
        "sub/deeper/g.GIF",
        ".secret/h.jpg",
        "sub/.cache/i.png",
    )
    return tmp_path


def test_extensions_cover_the_decoded_formats():
    for ext in (
        ".heic",
        ".heif",
        ".jpg",
        ".jpeg",
        ".png",
        ".webp",
        ".tif",
        ".tiff",
        ".bmp",
        ".gif",
        ".mpo",
    ):
        assert ext in IMAGE_EXTENSIONS
    assert all(ext == ext.lower() and ext.startswith(".") for ext in IMAGE_EXTENSIONS)
    assert ".txt" not in IMAGE_EXTENSIONS and ".mov" not in IMAGE_EXTENSIONS


def test_directory_not_recursive(album):
    names = [p.name for p in find_photos([album])]
    assert names == ["a.JPEG", "b.jpg", "c.heic", "d.png", "e.webp"]


def test_directory_recursive_skips_hidden(album):
    found = [p.relative_to(album).as_posix() for p in find_photos(album, recursive=True)]
    assert found == sorted(found)
    assert found == [
        "a.JPEG",
        "b.jpg",
        "c.heic",
        "d.png",
        "e.webp",
        "sub/deeper/g.GIF",
        "sub/f.tif",
    ]


def test_explicit_files_kept_even_with_odd_extensions(album):
    found = find_photos([album / "notes.txt", album / ".hidden.jpg", album / "d.png"])
    assert [p.name for p in found] == [".hidden.jpg", "d.png", "notes.txt"]


def test_no_duplicates(album):
    found = find_photos([album, album / "b.jpg", str(album / "sub" / ".." / "b.jpg"), album])
    assert len(found) == len(set(found)) == 5
    assert sum(p.name == "b.jpg" for p in found) == 1


def test_mixed_files_and_dirs_sorted(album):
    found = find_photos([album / "sub", album / "b.jpg"], recursive=True)
    assert found == sorted(found)
    assert {p.name for p in found} == {"b.jpg", "f.tif", "g.GIF"}


def test_missing_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        find_photos([tmp_path / "nope"])


def test_empty_directory(tmp_path):
    assert find_photos(tmp_path, recursive=True) == []


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlink_loop_does_not_hang(album):
    (album / "sub" / "loop").symlink_to(album, target_is_directory=True)
    found = find_photos(album, recursive=True)
    assert len(found) == 7
