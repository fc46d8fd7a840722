"""Labelled photo folders -> a checked, deduplicated, split dataset (``dataset.csv``).

Torch-free on purpose: ``smartalbum evaluate`` reads datasets in a serving-only install.

``prepare_dataset`` reads every photo once with the serving decoder and writes a CSV that
*points at* the photos (it never copies or changes them) plus a JSON report of what it
dropped and why:

* unreadable files (any :class:`PhotoError`) are dropped and listed with their error code;
* exact duplicates (same SHA-256) keep one copy; the same bytes under two labels is a
  labelling conflict and all copies are dropped;
* near-duplicates (pHash within ``near_dup_bits``) in one class keep the largest copy, so a
  resized or re-encoded copy cannot sit in train while its twin is scored in test; across
  classes they are a conflict and both are dropped;
* blurry photos (blur score under a threshold) are kept but listed for a human to look at.

The split is stratified per class, deterministic in ``seed`` and the photos' content (not
their names or the order the disk lists them), and keeps each group of similar photos
(pHash within ``group_bits``) in one split.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from smartalbum.atomic import write_atomic
from smartalbum.imaging.decode import load_photo
from smartalbum.imaging.errors import PhotoError
from smartalbum.imaging.files import find_photos
from smartalbum.imaging.hashing import phash
from smartalbum.imaging.quality import BLUR_THRESHOLD, blur_score

SPLITS = ("train", "val", "test")
CSV_NAME = "dataset.csv"
REPORT_NAME = "report.json"
CSV_FIELDS = ["path", "label", "split", "sha256", "phash", "blur", "width", "height", "group"]


@dataclass
class Item:
    """One photo of a dataset (the file itself is never copied)."""

    path: Path
    label: str
    split: str = "test"
    sha256: str = ""
    phash: str = ""
    blur: float = float("nan")
    width: int = 0
    height: int = 0
    group: str = ""
    source: str = ""  # where the photo came from (a manifest's source), for per-source figures


@dataclass
class Dataset:
    """Items with their labels and splits; ``source`` is the photo root (for licences)."""

    items: list[Item]
    labels: list[str]
    root: Path | None = None
    source: Path | None = None

    def split(self, name: str) -> list[Item]:
        return [it for it in self.items if it.split == name]

    def subset(self, labels: Iterable[str]) -> Dataset:
        """Only the items of ``labels`` (in that order), e.g. for a head over fewer classes."""
        keep = list(labels)
        missing = [lab for lab in keep if lab not in self.labels]
        if missing:
            raise ValueError(f"labels not in the dataset: {', '.join(missing)}")
        wanted = set(keep)
        return Dataset(
            [it for it in self.items if it.label in wanted], keep, self.root, self.source
        )

    def counts(self) -> dict[str, dict[str, int]]:
        """Photos per label and split."""
        c: dict[str, dict[str, int]] = {lab: dict.fromkeys(SPLITS, 0) for lab in self.labels}
        for it in self.items:
            c.setdefault(it.label, dict.fromkeys(SPLITS, 0))
            c[it.label][it.split] = c[it.label].get(it.split, 0) + 1
        return c


@dataclass
class DatasetReport:
    """What ``prepare_dataset`` found, kept, dropped and why."""

    source: str
    out: str
    layout: str
    found: int
    kept: int
    counts: dict[str, dict[str, int]]
    unreadable: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    near_duplicates: list[dict[str, Any]] = field(default_factory=list)
    conflicting: list[dict[str, Any]] = field(default_factory=list)
    blurry: list[dict[str, Any]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        return balance_table(self.counts)

    def summary(self) -> str:
        dropped = (
            len(self.unreadable) + len(self.duplicates) + len(self.near_duplicates)
            + len(self.conflicting)
        )
        return (
            f"{self.found} photos found, {self.kept} kept, {dropped} dropped "
            f"({len(self.unreadable)} unreadable, {len(self.duplicates)} exact duplicates, "
            f"{len(self.near_duplicates)} near-duplicates, {len(self.conflicting)} conflicting "
            f"labels); {len(self.blurry)} blurry kept for review; "
            f"{len(self.unlabelled)} files without a label skipped"
        )


def balance_table(counts: dict[str, dict[str, int]]) -> str:
    """Class balance per split as a fixed-width table with a total row."""
    labels = sorted(counts)
    w = max([5, *(len(lab) for lab in labels)])
    lines = [f"{'label':<{w}}  " + "  ".join(f"{s:>6}" for s in (*SPLITS, "total"))]
    totals = dict.fromkeys(SPLITS, 0)
    for lab in labels:
        row = [counts[lab].get(s, 0) for s in SPLITS]
        for s, v in zip(SPLITS, row, strict=True):
            totals[s] += v
        lines.append(f"{lab:<{w}}  " + "  ".join(f"{v:>6d}" for v in (*row, sum(row))))
    row = [totals[s] for s in SPLITS]
    lines.append(f"{'total':<{w}}  " + "  ".join(f"{v:>6d}" for v in (*row, sum(row))))
    return "\n".join(lines)


# -- scanning -------------------------------------------------------------------------------


def label_from_name(path: Path) -> str | None:
    """The seed's flat layout: ``people_0042.jpg`` -> ``people`` (None without a prefix)."""
    stem = path.stem
    if "_" not in stem:
        return None
    label = stem.split("_", 1)[0].strip()
    return label or None


def scan_labelled(src: Path, *, exclude: Path | None = None) -> tuple[list[tuple[Path, str]], list[str], str]:
    """Find (photo, label) pairs under ``src``: class folders and/or ``label_xxx`` names.

    Returns the pairs (sorted), the files that carry no label, and the layout seen
    ("folders", "names", "mixed" or "csv" for a prepared dataset directory).
    """
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"no such folder: {src}")
    if (src / CSV_NAME).is_file():
        ds = load_dataset(src)
        return sorted((it.path, it.label) for it in ds.items), [], "csv"
    pairs: list[tuple[Path, str]] = []
    unlabelled: list[str] = []
    excl = exclude.resolve() if exclude is not None else None
    folders = sorted(
        d for d in src.iterdir()
        if d.is_dir() and not d.name.startswith((".", "_")) and d.resolve() != excl
    )
    used_folders = 0
    for d in folders:
        photos = find_photos(d, recursive=True)
        if photos:
            used_folders += 1
        pairs.extend((p, d.name) for p in photos)
    named = 0
    for p in find_photos(src, recursive=False):
        label = label_from_name(p)
        if label is None:
            unlabelled.append(str(p))
        else:
            named += 1
            pairs.append((p, label))
    layout = "mixed" if used_folders and named else ("folders" if used_folders else "names")
    return sorted(pairs), unlabelled, layout


# -- reading photos -------------------------------------------------------------------------


@dataclass
class _Read:
    path: Path
    label: str
    sha256: str = ""
    phash: int = 0
    blur: float = float("nan")
    width: int = 0
    height: int = 0
    error: PhotoError | None = None


def _read_one(pair: tuple[Path, str]) -> _Read:
    path, label = pair
    try:
        photo = load_photo(path)
    except PhotoError as exc:
        return _Read(path, label, error=exc)
    img = photo.image
    return _Read(
        path,
        label,
        sha256=photo.facts.sha256,
        phash=phash(img),
        blur=blur_score(img),
        width=photo.facts.width,
        height=photo.facts.height,
    )


def _read_all(pairs: Sequence[tuple[Path, str]], workers: int, progress: bool) -> list[_Read]:
    """Decode every photo once (a small thread pool: decoding releases the GIL)."""
    bar = tqdm(total=len(pairs), unit="photo", desc="scanning", disable=not progress,
               file=sys.stderr)
    try:
        if workers <= 1:
            out = []
            for pair in pairs:
                out.append(_read_one(pair))
                bar.update(1)
            return out
        with ThreadPoolExecutor(max_workers=workers) as pool:
            out = []
            for r in pool.map(_read_one, pairs):
                out.append(r)
                bar.update(1)
            return out
    finally:
        bar.close()


# -- near-duplicates ------------------------------------------------------------------------


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def close_pairs(hashes: Sequence[int], max_bits: int) -> list[tuple[int, int, int]]:
    """All (i, j, distance) with i < j and Hamming distance <= ``max_bits`` (vectorised)."""
    if max_bits < 0 or len(hashes) < 2:
        return []
    h = np.asarray([int(x) for x in hashes], dtype=np.uint64)
    out: list[tuple[int, int, int]] = []
    for i in range(len(h) - 1):
        d = np.bitwise_count(h[i + 1 :] ^ h[i])
        for j in np.nonzero(d <= max_bits)[0]:
            out.append((i, i + 1 + int(j), int(d[j])))
    return out


# -- splitting ------------------------------------------------------------------------------


def _split_counts(n: int, val: float, test: float) -> tuple[int, int]:
    """Photos for (val, test) out of ``n``: rounded shares, at least one each when n >= 3."""
    n_val, n_test = round(n * val), round(n * test)
    if n >= 3:
        n_val = max(n_val, 1) if val > 0 else 0
        n_test = max(n_test, 1) if test > 0 else 0
    while n_val + n_test > max(0, n - 1) and (n_val or n_test):
        if n_val >= n_test and n_val:
            n_val -= 1
        else:
            n_test -= 1
    return n_val, n_test


def assign_splits(
    labels: Sequence[str], groups: Sequence[str], keys: Sequence[str], *, val: float, test: float,
    seed: int,
) -> list[str]:
    """Stratified, grouped, deterministic split.

    Per label, groups are ordered by a hash of (seed, the group's smallest content key) -
    so the split depends on the photos, not on file names or listing order - and dealt to
    test, then val, then train until each reaches its share.
    """
    out = ["train"] * len(labels)
    by_label: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (lab, g) in enumerate(zip(labels, groups, strict=True)):
        by_label[lab][g].append(i)
    for lab in sorted(by_label):
        members = by_label[lab]
        n = sum(len(v) for v in members.values())
        n_val, n_test = _split_counts(n, val, test)

        def order(g: str, members: dict[str, list[int]] = members) -> str:
            first = min(keys[i] for i in members[g])
            return hashlib.sha256(f"{seed}:{first}".encode()).hexdigest()

        taken = {"test": 0, "val": 0}
        for g in sorted(members, key=order):
            idx = members[g]
            if taken["test"] < n_test:
                name = "test"
            elif taken["val"] < n_val:
                name = "val"
            else:
                name = "train"
            if name != "train":
                taken[name] += len(idx)
            for i in idx:
                out[i] = name
    return out


# -- prepare --------------------------------------------------------------------------------


def prepare_dataset(
    src: Path,
    out: Path,
    *,
    val: float = 0.15,
    test: float = 0.15,
    seed: int = 0,
    near_dup_bits: int = 6,
    group_bits: int | None = None,
    keep_near_duplicates: bool = False,
    blur_threshold: float = BLUR_THRESHOLD,
    workers: int = 2,
    progress: bool = True,
    echo: bool = True,
) -> DatasetReport:
    """Scan ``src``, check every photo, split, and write ``out/dataset.csv`` + ``report.json``.

    ``src`` holds class folders (``src/<label>/...``), flat ``label_xxx.jpg`` files, or is
    a directory with a ``dataset.csv`` (re-split its photos). ``group_bits`` (default:
    ``near_dup_bits``) is the pHash distance under which kept photos are grouped so that
    similar shots never straddle two splits; ``keep_near_duplicates`` keeps near-duplicates
    (grouped) instead of dropping them. Prints the class balance table when ``echo``.
    """
    src, out = Path(src), Path(out)
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError("val and test must be shares in [0, 1) that leave room for train")
    group_bits = near_dup_bits if group_bits is None else max(group_bits, near_dup_bits)
    pairs, unlabelled, layout = scan_labelled(src, exclude=out)
    if not pairs:
        raise ValueError(
            f"no labelled photos in {src}: expected class folders (src/<label>/*.jpg) "
            "or files named <label>_<anything>.jpg"
        )
    reads = _read_all(pairs, workers, progress)

    report = DatasetReport(
        source=str(src.resolve()), out=str(out.resolve()), layout=layout, found=len(reads),
        kept=0, counts={}, unlabelled=unlabelled,
        params={"val": val, "test": test, "seed": seed, "near_dup_bits": near_dup_bits,
                "group_bits": group_bits, "keep_near_duplicates": keep_near_duplicates,
                "blur_threshold": blur_threshold},
    )
    ok: list[_Read] = []
    for r in reads:
        if r.error is not None:
            report.unreadable.append({"path": str(r.path), "label": r.label,
                                      "code": r.error.code, "error": str(r.error)})
        else:
            ok.append(r)

    # exact duplicates: same bytes
    by_sha: dict[str, list[_Read]] = defaultdict(list)
    for r in ok:
        by_sha[r.sha256].append(r)
    unique: list[_Read] = []
    for copies in by_sha.values():
        labels = {c.label for c in copies}
        if len(labels) > 1:
            for c in copies:
                others = [o for o in copies if o is not c]
                report.conflicting.append({
                    "path": str(c.path), "label": c.label, "reason": "identical file",
                    "other": str(others[0].path), "other_label": others[0].label, "distance": 0,
                })
            continue
        keep = min(copies, key=lambda c: str(c.path))
        unique.append(keep)
        for c in copies:
            if c is not keep:
                report.duplicates.append({"path": str(c.path), "label": c.label,
                                          "duplicate_of": str(keep.path)})
    unique.sort(key=lambda r: str(r.path))

    # near-duplicates: a pHash within near_dup_bits
    pairs_close = close_pairs([r.phash for r in unique], group_bits)
    conflicted: set[int] = set()
    for i, j, d in pairs_close:
        if d <= near_dup_bits and unique[i].label != unique[j].label:
            for a, b in ((i, j), (j, i)):
                if a not in conflicted:
                    conflicted.add(a)
                    report.conflicting.append({
                        "path": str(unique[a].path), "label": unique[a].label,
                        "reason": "near-duplicate", "other": str(unique[b].path),
                        "other_label": unique[b].label, "distance": d,
                    })
    dup_uf = _UnionFind(len(unique))
    for i, j, d in pairs_close:
        if (d <= near_dup_bits and i not in conflicted and j not in conflicted
                and unique[i].label == unique[j].label):
            dup_uf.union(i, j)
    components: dict[int, list[int]] = defaultdict(list)
    for i in range(len(unique)):
        if i not in conflicted:
            components[dup_uf.find(i)].append(i)
    kept_idx: list[int] = []
    for members in components.values():
        if len(members) == 1 or keep_near_duplicates:
            kept_idx.extend(members)
            continue
        # Greedy, biggest original first (most detail; ties by path): a photo is dropped
        # only when it is itself within near_dup_bits of a photo already kept. Chains
        # (A~B, B~C, A far from C) keep A and C; they still share a split via the groups.
        chosen: list[int] = []
        for k in sorted(members, key=lambda k: (-unique[k].width * unique[k].height, k)):
            near = [(int((unique[k].phash ^ unique[c].phash).bit_count()), c) for c in chosen]
            hits = [(d, c) for d, c in near if d <= near_dup_bits]
            if not hits:
                chosen.append(k)
                continue
            d, c = min(hits)
            report.near_duplicates.append({
                "path": str(unique[k].path), "label": unique[k].label,
                "near_duplicate_of": str(unique[c].path), "distance": d,
            })
        kept_idx.extend(chosen)
    kept_idx.sort()

    # groups for the split: similar photos (within group_bits, same label) stay together
    pos = {k: n for n, k in enumerate(kept_idx)}
    grp_uf = _UnionFind(len(kept_idx))
    for i, j, _d in pairs_close:
        if i in pos and j in pos and unique[i].label == unique[j].label:
            grp_uf.union(pos[i], pos[j])
    kept = [unique[k] for k in kept_idx]
    groups = [kept[grp_uf.find(n)].sha256[:16] for n in range(len(kept))]
    splits = assign_splits([r.label for r in kept], groups, [r.sha256 for r in kept],
                           val=val, test=test, seed=seed)

    items = [
        Item(path=r.path.resolve(), label=r.label, split=s, sha256=r.sha256,
             phash=f"{r.phash:016x}", blur=round(r.blur, 3), width=r.width, height=r.height,
             group=g)
        for r, s, g in zip(kept, splits, groups, strict=True)
    ]
    for r in kept:
        if r.blur < blur_threshold:
            report.blurry.append({"path": str(r.path), "label": r.label,
                                  "blur": round(r.blur, 3)})
    ds = Dataset(items, sorted({it.label for it in items}), out, src.resolve())
    report.kept = len(items)
    report.counts = ds.counts()

    out.mkdir(parents=True, exist_ok=True)
    write_csv(items, out / CSV_NAME)
    write_atomic(out / REPORT_NAME, json.dumps(report.to_dict(), indent=2) + "\n")
    if echo:
        print(report.table())
        print(report.summary())
    return report


def write_csv(items: Sequence[Item], path: Path) -> None:
    """Write items as ``dataset.csv`` (atomically)."""
    buf = io.StringIO()  # no newline translation: the csv module's own line endings
    w = csv.writer(buf)
    w.writerow(CSV_FIELDS)
    for it in items:
        w.writerow([str(it.path), it.label, it.split, it.sha256, it.phash,
                    "" if math.isnan(it.blur) else it.blur, it.width, it.height, it.group])
    write_atomic(path, buf.getvalue())


# -- loading --------------------------------------------------------------------------------


def load_dataset(path: Path) -> Dataset:
    """Read a prepared dataset (a directory with ``dataset.csv``, or the CSV itself)."""
    path = Path(path)
    csv_path = path if path.is_file() else path / CSV_NAME
    if not csv_path.is_file():
        raise FileNotFoundError(
            f"{path} is not a prepared dataset (no {CSV_NAME}); "
            "run `smartalbum dataset prepare SRC OUT` first"
        )
    items: list[Item] = []
    with csv_path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {"path", "label", "split"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{csv_path}: missing columns {', '.join(sorted(missing))}")
        for row in reader:
            split = row["split"]
            if split not in SPLITS:
                raise ValueError(f"{csv_path}: unknown split {split!r}")
            blur = row.get("blur") or ""
            items.append(Item(
                path=Path(row["path"]), label=row["label"], split=split,
                sha256=row.get("sha256", ""), phash=row.get("phash", ""),
                blur=float(blur) if blur else float("nan"),
                width=int(row.get("width") or 0), height=int(row.get("height") or 0),
                group=row.get("group", ""),
            ))
    source = None
    report = csv_path.parent / REPORT_NAME
    if report.is_file():
        try:
            source = Path(json.loads(report.read_text())["source"])
        except (ValueError, KeyError):
            source = None
    return Dataset(items, sorted({it.label for it in items}), csv_path.parent, source)


def open_dataset(path: Path) -> Dataset:
    """A prepared dataset, a folder with a manifest, or a plain labelled folder read as-is
    (every photo in "test").

    The plain-folder form is for evaluating a bundle on photos nobody has prepared: no
    deduplication, no split, nothing decoded here.
    """
    path = Path(path)
    if (path.is_dir() and (path / CSV_NAME).is_file()) or (path.is_file() and path.suffix == ".csv"):
        return load_dataset(path)
    from smartalbum.training.manifest import find_manifest, load_manifest

    manifest = find_manifest(path) if path.is_dir() else None
    if manifest is not None:
        return load_manifest(manifest)
    pairs, _unlabelled, _layout = scan_labelled(path)
    if not pairs:
        raise ValueError(f"no labelled photos in {path}")
    items = [Item(path=p.resolve(), label=lab, split="test") for p, lab in pairs]
    return Dataset(items, sorted({lab for _, lab in pairs}), None, path.resolve())


def class_balance(items: Iterable[Item]) -> Counter[str]:
    return Counter(it.label for it in items)
