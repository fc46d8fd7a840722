"""prepare_dataset / load_dataset on generated folders with planted problems (no torch)."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from smartalbum.training.data import (
    assign_splits,
    close_pairs,
    label_from_name,
    load_dataset,
    open_dataset,
    prepare_dataset,
)

from .imagegen import CLASSES, make_class_folders, make_flat, make_image, save_jpeg


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def messy(tmp_path: Path) -> dict[str, Path]:
    """Class folders with an exact duplicate, a resized re-encoded copy, a copy filed under
    another class, an unreadable file and a blurred photo."""
    src = make_class_folders(tmp_path / "src", n=10, seed=3)
    planted: dict[str, Path] = {}
    a = src / "stripes" / "stripes_000.jpg"
    planted["exact"] = src / "stripes" / "zz_copy.jpg"
    shutil.copyfile(a, planted["exact"])
    img = cv2.imread(str(src / "discs" / "discs_001.jpg"))
    small = cv2.resize(img, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    planted["near"] = src / "discs" / "zz_small.jpg"
    cv2.imwrite(str(planted["near"]), small, [cv2.IMWRITE_JPEG_QUALITY, 60])
    planted["conflict_src"] = src / "discs" / "discs_002.jpg"
    planted["conflict"] = src / "stripes" / "zz_wrong_class.jpg"
    img = cv2.imread(str(planted["conflict_src"]))
    cv2.imwrite(str(planted["conflict"]), img, [cv2.IMWRITE_JPEG_QUALITY, 75])
    planted["broken"] = src / "discs" / "zz_broken.jpg"
    planted["broken"].write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    rng = np.random.default_rng(9)
    blurred = cv2.GaussianBlur(make_image("discs", rng), (0, 0), 6)
    planted["blurry"] = save_jpeg(src / "discs" / "zz_blurry.jpg", blurred)
    (src / "notes.txt").write_text("not a photo")
    planted["src"] = src
    return planted


def test_prepare_drops_and_reports_the_planted_problems(messy: dict[str, Path], tmp_path: Path):
    src = messy["src"]
    before = _snapshot(src)
    report = prepare_dataset(src, tmp_path / "out", progress=False, echo=False)

    assert _snapshot(src) == before, "prepare_dataset must never touch the source photos"
    assert report.layout == "folders"
    assert report.found == 30 + 5
    assert [u["path"] for u in report.unreadable] == [str(messy["broken"])]
    assert report.unreadable[0]["code"] in {"corrupt_image", "not_an_image"}
    assert [(d["path"], d["duplicate_of"]) for d in report.duplicates] == [
        (str(messy["exact"]), str(src / "stripes" / "stripes_000.jpg"))
    ]
    # the smaller, re-encoded copy goes; the bigger original stays
    assert [(d["path"], d["near_duplicate_of"]) for d in report.near_duplicates] == [
        (str(messy["near"]), str(src / "discs" / "discs_001.jpg"))
    ]
    assert {c["path"] for c in report.conflicting} == {
        str(messy["conflict"]), str(messy["conflict_src"])
    }
    assert [b["path"] for b in report.blurry] == [str(messy["blurry"])]
    assert report.kept == 35 - 1 - 1 - 1 - 2  # broken, exact, near, two conflicting

    ds = load_dataset(tmp_path / "out")
    kept = {str(it.path) for it in ds.items}
    assert str(messy["blurry"].resolve()) in kept  # blurry photos are kept, only listed
    for name in ("broken", "exact", "near", "conflict", "conflict_src"):
        assert str(messy[name].resolve()) not in kept
    assert ds.labels == sorted(CLASSES)
    assert all(Path(it.path).is_absolute() for it in ds.items)
    for lab in CLASSES:  # stratified: every class in every split
        assert {it.split for it in ds.items if it.label == lab} == {"train", "val", "test"}
    with (tmp_path / "out" / "dataset.csv").open() as f:
        header = next(csv.reader(f))
    assert header[:8] == ["path", "label", "split", "sha256", "phash", "blur", "width", "height"]
    assert (tmp_path / "out" / "report.json").is_file()


def test_split_is_deterministic_and_content_based(tmp_path: Path):
    src = make_class_folders(tmp_path / "src", n=10, seed=5)
    prepare_dataset(src, tmp_path / "a", seed=1, progress=False, echo=False)
    prepare_dataset(src, tmp_path / "b", seed=1, progress=False, echo=False, workers=1)
    prepare_dataset(src, tmp_path / "c", seed=2, progress=False, echo=False)
    a, b, c = (load_dataset(tmp_path / x) for x in "abc")
    split = lambda ds: {it.sha256: it.split for it in ds.items}  # noqa: E731
    assert split(a) == split(b)
    assert split(a) != split(c)
    # renaming every file changes nothing: the split follows content, not names
    renamed = tmp_path / "renamed"
    shutil.copytree(src, renamed)
    for p in sorted(renamed.rglob("*.jpg")):
        p.rename(p.with_name("x" + hashlib.md5(p.name.encode()).hexdigest()[:6] + ".jpg"))
    prepare_dataset(renamed, tmp_path / "d", seed=1, progress=False, echo=False)
    assert split(load_dataset(tmp_path / "d")) == split(a)


def test_near_duplicate_groups_never_cross_splits(tmp_path: Path):
    src = make_class_folders(tmp_path / "src", n=8, seed=7)
    # three resized, re-encoded copies of two photos of each class (discs: smooth pictures,
    # whose perceptual hash survives resizing; fine stripes alias)
    for lab in CLASSES:
        for k in range(2):
            img = cv2.imread(str(src / "discs" / f"discs_{k + 2 * CLASSES.index(lab):03d}.jpg"))
            for j, scale in enumerate((0.9, 0.8, 0.7)):
                small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                cv2.imwrite(str(src / "discs" / f"copy_{lab}_{k}_{j}.jpg"), small,
                            [cv2.IMWRITE_JPEG_QUALITY, 70])
    report = prepare_dataset(src, tmp_path / "out", keep_near_duplicates=True, val=0.2,
                             test=0.2, progress=False, echo=False)
    assert not report.near_duplicates and report.kept == 3 * (8 + 6)
    ds = load_dataset(tmp_path / "out")
    groups: dict[str, set[str]] = {}
    for it in ds.items:
        groups.setdefault(it.group, set()).add(it.split)
    sizes = sorted(sum(it.group == g for it in ds.items) for g in groups)
    assert sizes[-6:] == [4] * 6  # each original and its three copies form one group
    assert all(len(splits) == 1 for splits in groups.values())

    dropped = prepare_dataset(src, tmp_path / "out2", progress=False, echo=False)
    assert len(dropped.near_duplicates) == 18 and dropped.kept == 24


def test_flat_seed_layout_and_unlabelled_files(tmp_path: Path):
    src = make_flat(tmp_path / "flat", n=5)
    save_jpeg(src / "nolabel.jpg", make_image("discs", np.random.default_rng(1)))
    report = prepare_dataset(src, tmp_path / "out", progress=False, echo=False)
    assert report.layout == "names"
    assert report.unlabelled == [str(src / "nolabel.jpg")]
    ds = load_dataset(tmp_path / "out")
    assert ds.labels == sorted(CLASSES)
    assert {it.label for it in ds.items if it.path.name.startswith("discs_")} == {"discs"}
    assert label_from_name(Path("people_0042.jpg")) == "people"
    assert label_from_name(Path("IMG0042.jpg")) is None


def test_prepare_accepts_a_prepared_dataset_and_prints_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    src = make_class_folders(tmp_path / "src", n=6, seed=11)
    prepare_dataset(src, tmp_path / "first", progress=False, echo=False)
    report = prepare_dataset(tmp_path / "first", tmp_path / "second", seed=3, progress=False)
    assert report.layout == "csv"
    first, second = load_dataset(tmp_path / "first"), load_dataset(tmp_path / "second")
    assert {it.sha256 for it in first.items} == {it.sha256 for it in second.items}
    out = capsys.readouterr().out
    for word in ("label", "train", "val", "test", "total", *CLASSES):
        assert word in out


def test_prepare_rejects_empty_or_missing_sources(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no labelled photos"):
        prepare_dataset(tmp_path / "empty", tmp_path / "out", progress=False, echo=False)
    with pytest.raises(FileNotFoundError):
        prepare_dataset(tmp_path / "missing", tmp_path / "out", progress=False, echo=False)
    with pytest.raises(FileNotFoundError, match="dataset prepare"):
        load_dataset(tmp_path / "empty")


def test_open_dataset_reads_a_plain_folder_as_test_photos(tmp_path: Path):
    src = make_class_folders(tmp_path / "src", n=2, seed=2)
    ds = open_dataset(src)
    assert ds.root is None and len(ds.items) == 6
    assert {it.split for it in ds.items} == {"test"}


def test_close_pairs_and_grouped_split_units():
    hashes = [0b0, 0b111, 0xFFFF, 0b1]
    assert close_pairs(hashes, 3) == [(0, 1, 3), (0, 3, 1), (1, 3, 2)]
    labels = ["a"] * 10
    groups = ["g1", "g1", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8"]
    keys = [f"k{i}" for i in range(10)]
    splits = assign_splits(labels, groups, keys, val=0.2, test=0.2, seed=0)
    assert len({splits[0], splits[1], splits[2]}) == 1
    assert splits.count("train") >= 4 and "val" in splits and "test" in splits
    assert splits == assign_splits(labels, groups, keys, val=0.2, test=0.2, seed=0)
