"""The organise package's pieces on their own: no-overwrite publication, exclusive temporary
files, sidecar restore, the one progress adapter, the typed errors, and ``run`` (the entry
point of the CLI and the job) with a catalog that cannot be told."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from library.test_organize import assert_complete, make_library, snapshot
from smartalbum import organize as org
from smartalbum.errors import EXIT_FAILURE, EXIT_USAGE
from smartalbum.organize import fileops, sidecars


def _no_links(*args, **kwargs):
    raise OSError(errno.EPERM, "Operation not permitted")


@pytest.mark.parametrize("links", [True, False])
def test_publish_new_never_replaces(tmp_path: Path, monkeypatch, links: bool) -> None:
    if not links:  # FAT/exFAT: the exclusive placeholder path
        monkeypatch.setattr(os, "link", _no_links)
    temp, taken, free = tmp_path / "t.part", tmp_path / "taken.jpg", tmp_path / "free.jpg"
    temp.write_bytes(b"new photo")
    taken.write_bytes(b"someone else's")
    claims: list[bytes] = []

    assert fileops.publish_new(temp, taken, on_claim=lambda: claims.append(b"")) is None
    assert taken.read_bytes() == b"someone else's" and not claims

    how = fileops.publish_new(temp, free, on_claim=lambda: claims.append(free.read_bytes()))
    assert free.read_bytes() == b"new photo"
    if links:
        assert how == "link" and temp.exists() and not claims  # temp: a second name
    else:
        assert how == "replace" and not temp.exists()
        assert claims == [b""]  # the claim is journaled while the name holds our placeholder


def test_write_exclusive_refuses_an_existing_file_and_cleans_up(tmp_path: Path) -> None:
    existing = tmp_path / "x.part"
    existing.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        fileops.write_exclusive(existing, [b"other"])
    assert existing.read_bytes() == b"keep"

    def broken():
        yield b"half"
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "y.part"
    with pytest.raises(OSError, match="No space"):
        fileops.write_exclusive(target, broken())
    assert not target.exists()  # no partial file left behind


def test_copy_verified_refuses_a_changed_source(tmp_path: Path) -> None:
    source = tmp_path / "a.jpg"
    source.write_bytes(b"edited since indexing")
    temp = tmp_path / "a.part"
    with pytest.raises(org.SourceChangedError) as caught:
        fileops.copy_verified(source, temp, "0" * 64)
    assert caught.value.errno == errno.EIO and caught.value.filename == str(source)
    assert not temp.exists()


def test_restore_sidecar_keeps_permissions_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "IMG_1.jpg.xmp"
    path.write_bytes(b"ours")
    path.chmod(0o640)
    sidecars.restore_sidecar(path, b"the user's original")
    assert path.read_bytes() == b"the user's original"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["IMG_1.jpg.xmp"]


def test_photo_progress_counts_each_photo_once() -> None:
    done: list[int] = []
    tick = org.PhotoProgress(done.append)
    items = [org.PlanItem(i, i, f"/s/{i}", "x", 1, f"/d/{i}", "move") for i in range(3)]
    for step in ("copied", "verified", "source_removed"):
        tick(items[0], step)
    tick(items[1], "failed")
    tick(items[1], "verified")  # a resumed run finishing what failed: still one photo
    tick(items[2], "skipped")
    assert done == [1, 1, 1]


def test_error_codes_match_the_cli_and_the_api() -> None:
    assert issubclass(org.LayoutError, org.OrganizeError)
    with pytest.raises(org.LayoutError) as bad:
        org.validate_layout("{nope}")
    assert (bad.value.code, bad.value.status, bad.value.exit_code) == ("bad_layout", 400, 2)
    assert org.JournalError.exit_code == EXIT_USAGE
    assert (org.DiskFullError.status, org.DiskFullError.exit_code) == (507, EXIT_FAILURE)


def test_disk_full_stops_the_run_and_resume_finishes_it(tmp_path: Path) -> None:
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 6)
    plan = org.make_plan(photos, into, mode="move")

    def full(op: str, item) -> None:
        if op == "copied" and item.index == 2:
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(org.DiskFullError, match="--resume"):
        org.execute(plan, fault=full)
    for photo in photos:  # nothing lost
        assert Path(photo.paths[0]).exists() or any(
            d == photo.sha256 for d in snapshot(into).values()
        )
    [journal] = org.find_journals(into)
    assert org.resume(journal).ok
    assert_complete(photos, src, into, "move", {})


def test_run_reports_photos_and_survives_an_unreachable_catalog(tmp_path: Path) -> None:
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 5)
    plan = org.make_plan(photos, into, mode="copy")
    done: list[int] = []

    def catalog():
        raise RuntimeError("database is down")

    result = org.run(plan, done.append, catalog=catalog)
    assert result.ok and sum(done) == 5
    assert "database is down" in (result.catalog_warning or "")
    assert_complete(photos, src, into, "copy", {})

    again = org.run(None, done.append, journal=result.journal)  # resuming a finished run
    assert again.ok and again.catalog_warning is None
    undone = org.run(None, journal=result.journal, undo=True, catalog=catalog)
    assert undone.ok and undone.catalog_warning and not into.exists()
    with pytest.raises(ValueError):
        org.run(plan, journal=result.journal)
