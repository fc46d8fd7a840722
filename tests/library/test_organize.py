"""Organising: plan, every mode, collisions, crashes (injected and SIGKILL), resume, rollback.

The invariant checked after every crash: each photo's bytes exist (at its source or at a
destination), no file that was in the target before the run was changed, and after
``resume`` each photo is exactly once where it belongs; after ``rollback`` the source tree
and the target are exactly what they were before the run.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from library.records import prediction, record
from smartalbum import organize as org
from smartalbum.library.xmp import read_sidecar
from smartalbum.organize import sidecars


class Crash(BaseException):
    """A simulated kill: a BaseException, so no ``except OSError`` cleanup runs."""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file (links followed) under ``root``."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): _sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


def make_library(root: Path, n: int, *, size: int = 2000, seed: int = 0) -> list:
    """``n`` distinct fake photos under ``root`` (some sharing a file name) and records."""
    photos = []
    labels = ["landscape", "people", "architecture"]
    for k in range(n):
        folder = root / f"dcim{k % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"IMG_{k // 3:04d}.jpg"  # the same name in each of 3 folders
        data = hashlib.sha256(f"{seed}-{k}".encode()).digest() * (size // 32)
        path.write_bytes(b"\xff\xd8" + data)
        uncertain = k % 7 == 3
        photos.append(
            record(
                id=k + 1,
                sha256=_sha(path),
                size=path.stat().st_size,
                paths=[str(path)],
                taken_at=datetime(2024, 1 + k % 12, 1 + k % 28, 12),
                camera_make="Canon",
                camera_model="Canon EOS 80D",
                city="Arezzo" if k % 2 else None,
                prediction=prediction(labels[k % 3], 0.4 if uncertain else 0.9, uncertain),
                correction="food" if k % 11 == 5 else None,
            )
        )
    return photos


def contents(root: Path) -> dict[str, list[Path]]:
    """SHA-256 -> the visible files under ``root`` with those bytes."""
    found: dict[str, list[Path]] = {}
    for p in root.rglob("*"):
        if p.is_file() and not p.name.startswith("."):
            found.setdefault(_sha(p), []).append(p)
    return found


def assert_complete(
    photos, src: Path, into: Path, mode: str, before_target: dict, skipped: tuple[int, ...] = ()
) -> None:
    """After a finished (or resumed) run: every photo exactly once where it belongs
    (a move keeps the source of a photo ``skipped`` because it was already there)."""
    found = contents(into)
    for photo in photos:
        at_dest = found.get(photo.sha256, [])
        at_source = Path(photo.paths[0]).exists()
        if mode == "move" and photo.id not in skipped:
            assert len(at_dest) == 1 and not at_source, photo.paths[0]
        else:
            assert len(at_dest) == 1 and at_source, photo.paths[0]
    for rel, digest in before_target.items():  # nothing that was there was changed
        assert _sha(into / rel) == digest
    assert not list(into.rglob("*.part")), "temporary files left behind"


# --------------------------------------------------------------------------- layout


def test_render_layout_placeholders_review_and_safety() -> None:
    photo = record(
        id=1,
        paths=["/src/IMG_1.JPG"],
        taken_at=datetime(2024, 5, 3, 9),
        camera_make="NIKON",
        camera_model="COOLPIX P6000",
        city="Arezzo",
        prediction=prediction("landscape"),
    )
    assert org.render(org.DEFAULT_LAYOUT, photo, "/src/IMG_1.JPG") == "landscape/2024/05/IMG_1.JPG"
    assert (
        org.render("{place}/{camera}/{year}-{month}-{day} {name}.{ext}", photo, "/src/IMG_1.JPG")
        == "Arezzo/NIKON COOLPIX P6000/2024-05-03 IMG_1.JPG"
    )
    assert org.render("{label}/{name}", photo, "/src/IMG_1.JPG") == "landscape/IMG_1.JPG"
    photo.correction = "people"  # the correction wins
    assert org.render("{label}", photo, "/src/a.jpg") == "people/a.jpg"
    unsure = record(id=2, prediction=prediction("pets", 0.3, uncertain=True))
    assert org.render("{label}/{year}", unsure, "/x/b.png") == "review/pets/unknown/b.png"
    assert org.render("{label}", record(id=3), "/x/c.png") == "review/unlabelled/c.png"
    evil = record(id=4, correction="../../etc", camera_model="a/b:c", prediction=None)
    assert org.render("{label}/{camera}", evil, "/x/d.jpg") == "_.._etc/a_b_c/d.jpg"
    for bad in ("{label}/{nope}", "/abs/{label}", "{label}/../x", "{label!r}", "{year:>4}"):
        with pytest.raises(org.OrganizeError):
            org.validate_layout(bad)


# --------------------------------------------------------------------------- plan


def test_dry_run_plan_touches_nothing_and_foresees_collisions(tmp_path: Path) -> None:
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 9)
    # Photo 1 (landscape, Jan): a different file already has its name at the target;
    # photo 2 (people, Feb): the identical file is already there.
    first = into / org.render(org.DEFAULT_LAYOUT, photos[0], photos[0].paths[0])
    first.parent.mkdir(parents=True)
    first.write_bytes(b"someone else's photo")
    second = into / org.render(org.DEFAULT_LAYOUT, photos[1], photos[1].paths[0])
    second.parent.mkdir(parents=True)
    second.write_bytes(Path(photos[1].paths[0]).read_bytes())
    before_src, before_into = snapshot(src), snapshot(into)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}

    plan = org.make_plan(photos, into, mode="move", xmp=True)

    assert snapshot(src) == before_src and snapshot(into) == before_into
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == mtimes
    by_id = {i.photo_id: i for i in plan.items}
    assert by_id[1].dest.endswith("IMG_0000 (1).jpg") and "taken" in by_id[1].note
    assert by_id[2].action == "skip" and by_id[2].dest == str(second)
    assert plan.counts() == Counter({"move": 8, "skip": 1})
    assert len({i.dest for i in plan.items}) == 9


# --------------------------------------------------------------------------- modes


@pytest.mark.parametrize("mode", ["copy", "move", "link"])
def test_modes_with_collisions(tmp_path: Path, mode: str) -> None:
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 12)
    taken = into / org.render(org.DEFAULT_LAYOUT, photos[0], photos[0].paths[0])
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"a different photo with the same name")
    same = into / org.render(org.DEFAULT_LAYOUT, photos[1], photos[1].paths[0])
    same.parent.mkdir(parents=True)
    same.write_bytes(Path(photos[1].paths[0]).read_bytes())
    before_target = snapshot(into)
    source_modes = {p.paths[0]: os.stat(p.paths[0]).st_mode for p in photos}

    plan = org.make_plan(photos, into, mode=mode)
    # Between plan and run, another program creates a file at a planned name.
    intruder = Path(plan.items[5].dest)
    intruder.parent.mkdir(parents=True, exist_ok=True)
    intruder.write_bytes(b"arrived meanwhile")
    before_target[str(intruder.relative_to(into))] = _sha(intruder)

    result = org.execute(plan)

    assert result.ok, result.failed
    done = {"copy": "copied", "move": "moved", "link": "linked"}[mode]
    assert result.counts[done] == 11 and result.counts["skipped"] == 1
    assert_complete(photos, src, into, mode, before_target, skipped=(photos[1].id,))
    assert taken.read_bytes() == b"a different photo with the same name"
    assert (taken.parent / "IMG_0000 (1).jpg").exists()
    assert intruder.read_bytes() == b"arrived meanwhile"
    if mode == "link":
        dest = Path(plan.items[3].dest)
        assert os.path.samefile(dest, photos[3].paths[0])
    if mode != "move":  # sources untouched, not even their permissions
        assert {p: os.stat(p).st_mode for p in source_modes} == source_modes
    journal = [json.loads(x) for x in result.journal.read_text().splitlines()]
    assert journal[0]["op"] == "header" and journal[-1]["op"] == "run_done"
    ops = Counter(r["op"] for r in journal)
    assert ops["planned"] == 12 and ops["copied"] == 11 and ops["verified"] == 11
    assert ops["source_removed"] == (11 if mode == "move" else 0)


def test_link_falls_back_to_symlink_across_filesystems(tmp_path: Path, monkeypatch) -> None:
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 4)
    real_link = os.link

    def cross_device(a, b, *args, **kwargs):
        if str(a).startswith(str(src)):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_link(a, b, *args, **kwargs)

    monkeypatch.setattr(os, "link", cross_device)
    result = org.execute(org.make_plan(photos, into, mode="link"))
    assert result.counts["linked"] == 4 and result.counts["symlinked"] == 4
    links = [p for p in into.rglob("*.jpg")]
    assert len(links) == 4 and all(p.is_symlink() for p in links)
    assert_complete(photos, src, into, "link", {})
    org.rollback(result.journal)
    assert not into.exists() and len(snapshot(src)) == 4


def test_copy_without_hard_links_claims_names_exclusively(tmp_path: Path, monkeypatch) -> None:
    """FAT/exFAT: no os.link; the O_EXCL placeholder path must still never overwrite."""
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 6)
    taken = into / org.render(org.DEFAULT_LAYOUT, photos[2], photos[2].paths[0])
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"keep me")

    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    result = org.execute(org.make_plan(photos, into, mode="move", xmp=True))
    assert result.ok and result.counts["moved"] == 6 and result.counts["xmp"] == 6
    assert taken.read_bytes() == b"keep me"
    assert_complete(photos, src, into, "move", {str(taken.relative_to(into)): _sha(taken)})
    rolled = org.rollback(result.journal)
    assert rolled.ok and rolled.counts["restored"] == 6
    assert all(Path(p.paths[0]).exists() for p in photos)
    assert snapshot(into) == {str(taken.relative_to(into)): _sha(taken)}


def test_source_changed_since_indexing_is_refused(tmp_path: Path) -> None:
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 3)
    Path(photos[1].paths[0]).write_bytes(b"edited after indexing")
    result = org.execute(org.make_plan(photos, into, mode="move"))
    assert len(result.failed) == 1 and "changed" in result.failed[0][1]
    assert Path(photos[1].paths[0]).read_bytes() == b"edited after indexing"
    assert not list(into.rglob("*.part"))
    assert len([name for name in snapshot(into) if not name.startswith(".")]) == 2


# --------------------------------------------------------------------------- crashes


@pytest.mark.parametrize("step", ["copied", "verified", "xmp", "xmp_done", "source_removed"])
def test_crash_after_each_step_then_resume(tmp_path: Path, step: str) -> None:
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 10)
    plan = org.make_plan(photos, into, mode="move", xmp=True)
    victim = plan.items[4]

    def fault(op: str, item) -> None:
        if op == step and item.index == victim.index:
            raise Crash(op)

    with pytest.raises(Crash):
        org.execute(plan, fault=fault)
    journal = org.find_journals(into)[0]
    found = contents(into)
    for photo in photos:  # nothing lost at the moment of the crash
        assert photo.sha256 in found or Path(photo.paths[0]).exists()

    result = org.resume(journal)
    assert result.ok, result.failed
    assert_complete(photos, src, into, "move", {})
    assert all(read_sidecar(org.sidecar_path(i.dest).read_bytes()) for i in plan.items)


def test_crash_between_publishing_and_journaling_is_adopted(tmp_path: Path, monkeypatch) -> None:
    """Killed right after os.link, before the journal line: resume must neither make a
    second copy nor leave the first one behind, and rollback must remove it."""
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 5)
    plan = org.make_plan(photos, into, mode="move")
    real_link, calls = os.link, []

    def link_then_die(a, b, *args, **kwargs):
        real_link(a, b, *args, **kwargs)
        calls.append(b)
        if len(calls) == 3:
            raise Crash("killed after link")

    monkeypatch.setattr(os, "link", link_then_die)
    with pytest.raises(Crash):
        org.execute(plan)
    monkeypatch.setattr(os, "link", real_link)
    journal = org.find_journals(into)[0]
    assert list(into.rglob(".smartalbum-*.part"))  # the temporary file is still there

    result = org.resume(journal)
    assert result.ok and result.counts["moved"] == 5
    assert_complete(photos, src, into, "move", {})

    src2, into2 = tmp_path / "src2", tmp_path / "sorted2"
    photos2 = make_library(src2, 5, seed=1)
    before = snapshot(src2)
    calls.clear()
    monkeypatch.setattr(os, "link", link_then_die)
    with pytest.raises(Crash):
        org.execute(org.make_plan(photos2, into2, mode="move"))
    monkeypatch.setattr(os, "link", real_link)
    assert org.rollback(org.find_journals(into2)[0]).ok
    assert snapshot(src2) == before and not into2.exists()


def test_rollback_restores_the_original_tree(tmp_path: Path) -> None:
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 12)
    existing = into / "landscape" / "2024" / "01" / "old.jpg"
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"was there before")
    sidecar = org.sidecar_path(into / org.render(org.DEFAULT_LAYOUT, photos[3], photos[3].paths[0]))
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    original_sidecar = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        b'22-rdf-syntax-ns#"><rdf:Description rdf:about=""/></rdf:RDF></x:xmpmeta>'
    )
    sidecar.write_bytes(original_sidecar)
    before_src, before_into = snapshot(src), snapshot(into)
    dirs_before = sorted(str(p) for p in tmp_path.rglob("*") if p.is_dir())

    def fault(op: str, item) -> None:
        if op == "verified" and item.index == 8:
            raise Crash(op)

    with pytest.raises(Crash):
        org.execute(org.make_plan(photos, into, mode="move", xmp=True), fault=fault)
    assert "dummy" not in read_sidecar(sidecar.read_bytes())["subject"]
    assert read_sidecar(sidecar.read_bytes())["smartalbum"]  # merged before the crash

    result = org.rollback(org.find_journals(into)[0])
    assert result.ok, result.conflicts
    assert snapshot(src) == before_src
    assert snapshot(into) == before_into  # our copies, journal and folders gone
    assert sidecar.read_bytes() == original_sidecar
    assert sorted(str(p) for p in tmp_path.rglob("*") if p.is_dir()) == dirs_before
    with pytest.raises(org.OrganizeError):
        org.resume(result.journal)  # the journal is gone after a clean rollback


def test_rollback_never_deletes_what_it_did_not_create(tmp_path: Path) -> None:
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 4)
    result = org.execute(org.make_plan(photos, into, mode="move"))
    journal = [json.loads(x) for x in result.journal.read_text().splitlines()]
    dests = {r["i"]: Path(r["dest"]) for r in journal if r["op"] == "copied"}
    dests[0].chmod(0o644)
    dests[0].write_bytes(b"the user edited the organised photo")  # changed since
    Path(photos[1].paths[0]).write_bytes(b"a new file where the source was")  # path reused
    rolled = org.rollback(result.journal)
    assert len(rolled.conflicts) == 2 and not rolled.ok
    assert dests[0].read_bytes() == b"the user edited the organised photo"
    assert dests[1].exists() and Path(photos[1].paths[0]).read_bytes().startswith(b"a new")
    assert Path(photos[2].paths[0]).exists() and not dests[2].exists()
    assert result.journal.exists()  # kept: the run is not fully undone


def test_resume_refuses_a_rolled_back_or_busy_journal(tmp_path: Path) -> None:
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 3)
    result = org.execute(org.make_plan(photos, into, mode="copy"))
    handle, _, _ = org.Journal.open(result.journal)
    try:
        with pytest.raises(org.OrganizeError, match="in use"):
            org.resume(result.journal)
    finally:
        handle.close()
    assert org.resume(result.journal).ok  # resuming a finished run does nothing harmful
    assert_complete(photos, src, into, "copy", {})
    Path(photos[0].paths[0]).unlink()  # a source vanished: rollback keeps the copy
    rolled = org.rollback(result.journal)
    assert rolled.ok and len(snapshot(into)) == 0


def test_torn_journal_line_is_ignored(tmp_path: Path) -> None:
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 3)
    plan = org.make_plan(photos, into, mode="copy")

    def fault(op: str, item) -> None:
        if op == "copied" and item.index == 1:
            raise Crash(op)

    with pytest.raises(Crash):
        org.execute(plan, fault=fault)
    journal = org.find_journals(into)[0]
    with open(journal, "a") as f:
        f.write('{"op": "verified", "i": 1')  # killed in the middle of a line
    assert org.resume(journal).ok
    assert_complete(photos, src, into, "copy", {})


# --------------------------------------------------------------------------- SIGKILL

_CHILD = """
import pickle, sys
from smartalbum import organize as org
plan = pickle.load(open(sys.argv[1], "rb"))
def progress(item, step):
    print(step, item.index, flush=True)
org.execute(plan, progress=progress)
print("finished", flush=True)
"""


def _run_and_kill(plan, tmp_path: Path, after: int) -> int:
    """Run ``plan`` in a child process and SIGKILL it after ``after`` 'copied' steps."""
    plan_file = tmp_path / f"plan-{os.getpid()}-{after}.pickle"
    plan_file.write_bytes(pickle.dumps(plan))
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(plan_file)], stdout=subprocess.PIPE, text=True
    )
    seen = 0
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("copied"):
            seen += 1
            if seen == after:
                child.send_signal(signal.SIGKILL)
                break
        assert not line.startswith("finished"), "the run ended before it could be killed"
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("then", ["resume", "rollback"])
def test_sigkill_mid_move_then_resume_or_rollback(tmp_path: Path, then: str) -> None:
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 200, size=4000)
    taken = into / org.render(org.DEFAULT_LAYOUT, photos[50], photos[50].paths[0])
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"not yours")
    before_src, before_into = snapshot(src), snapshot(into)
    plan = org.make_plan(photos, into, mode="move", xmp=True)

    _run_and_kill(plan, tmp_path, after=90)
    assert sum(Path(p.paths[0]).exists() for p in photos) > 50  # really interrupted mid-way

    digests = Counter(before_src.values())
    found = contents(into)
    for photo in photos:  # no photo lost, nothing pre-existing overwritten
        assert photo.sha256 in found or Path(photo.paths[0]).exists()
    assert taken.read_bytes() == b"not yours"
    [journal] = org.find_journals(into)
    if then == "resume":
        result = org.resume(journal)
        assert result.ok, result.failed
        assert_complete(photos, src, into, "move", before_into)
        at_dest = Counter(snapshot(into).values())
        assert all(at_dest[d] == 1 for d in digests)  # every photo exactly once
        assert snapshot(src) == {}
    else:
        result = org.rollback(journal)
        assert result.ok, result.conflicts
        assert snapshot(src) == before_src
        assert snapshot(into) == before_into


def test_crash_between_sidecar_write_and_journal(tmp_path: Path, monkeypatch) -> None:
    """The sidecar was merged but not journaled as done: resume must not merge it again
    (the journal would then remember our own version as "the original")."""
    src, into = tmp_path / "src", tmp_path / "sorted"
    photos = make_library(src, 3)
    plan = org.make_plan(photos, into, mode="copy", xmp=True)
    sidecar = org.sidecar_path(plan.items[1].dest)
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    original = b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
    sidecar.write_bytes(original)
    real = sidecars.write_sidecar

    def write_then_die(path, *args, **kwargs):
        done = real(path, *args, **kwargs)
        if path == sidecar:
            raise Crash("killed after the sidecar was written")
        return done

    monkeypatch.setattr(sidecars, "write_sidecar", write_then_die)
    with pytest.raises(Crash):
        org.execute(plan)
    monkeypatch.setattr(sidecars, "write_sidecar", real)
    journal = org.find_journals(into)[0]
    merged = sidecar.read_bytes()
    assert org.resume(journal).ok
    assert sidecar.read_bytes() == merged
    assert org.rollback(journal).ok
    assert sidecar.read_bytes() == original
