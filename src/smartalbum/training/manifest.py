"""Hand-made manifests: labelled photos listed in a CSV with their split and source.

``../shared/data/wild`` is described this way (``MANIFEST_wild.csv``: ``file``, ``class``,
``split``, ``source_repo``): split **by source**, so its ``val`` rows are a validation set
that can fail, unlike a random split of one narrow pool. ``open_dataset`` reads such a
folder through :func:`load_manifest`, so ``smartalbum evaluate BUNDLE wild --split val``
reports per source.
"""

from __future__ import annotations

import csv
from pathlib import Path

from smartalbum.training.data import SPLITS, Dataset, Item

MANIFEST_GLOB = "MANIFEST*.csv"


def find_manifest(folder: Path) -> Path | None:
    """The folder's ``MANIFEST*.csv`` when it has ``file``, ``class`` and ``split`` columns."""
    for csv_path in sorted(Path(folder).glob(MANIFEST_GLOB)):
        with csv_path.open(newline="") as f:
            header = next(csv.reader(f), [])
        if {"file", "class", "split"} <= set(header):
            return csv_path
    return None


def load_manifest(csv_path: Path) -> Dataset:
    """A hand-made manifest (``file``, ``class``, ``split``, optional ``source_repo``).

    This is how ``../shared/data/wild`` is described: split by source, so its ``val`` rows
    are a validation set that can fail. Paths are relative to the manifest's folder.
    """
    root = csv_path.parent
    items: list[Item] = []
    with csv_path.open(newline="") as f:
        for row in csv.DictReader(f):
            split = row["split"]
            if split not in SPLITS:
                raise ValueError(f"{csv_path}: unknown split {split!r}")
            items.append(
                Item(
                    path=root / row["file"],
                    label=row["class"],
                    split=split,
                    sha256=row.get("sha256", ""),
                    width=int(row.get("width") or 0),
                    height=int(row.get("height") or 0),
                    source=row.get("source_repo") or row.get("source") or "",
                )
            )
    return Dataset(items, sorted({it.label for it in items}), root, root)
