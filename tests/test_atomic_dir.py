"""atomic.atomic_dir: a folder is replaced whole, or left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartalbum.atomic import atomic_dir


def test_a_new_folder_appears_whole(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "bundle"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("new")
        assert not out.exists()
    assert (out / "a.txt").read_text() == "new"
    assert [p.name for p in out.parent.iterdir()] == ["bundle"]


def test_an_old_folder_is_replaced_and_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with atomic_dir(out) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_a_failure_keeps_the_old_folder_and_removes_the_new_one(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
