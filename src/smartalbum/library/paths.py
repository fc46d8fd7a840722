"""Index roots as paths and as SQL: which catalogued files lie under some folders.

Shared by the indexer (its scan), the background index job (files gone from the job's
folders) and faces (the photos under the folders a scan was asked for): one definition of
"under a root", so all three agree on which files a folder holds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_


def absolute_root(root: str | os.PathLike[str]) -> Path:
    """A root as an absolute path: folders resolved, files resolved up to their folder.

    Raises FileNotFoundError when it does not exist.
    """
    p = Path(root).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"no such file or directory: {p}")
    if p.is_dir():
        return p.resolve()
    return p.parent.resolve() / p.name


def under_roots(column: Any, roots: Sequence[Path]) -> Any:
    """SQL condition: ``column`` is one of the file roots or inside one of the folder roots.

    ``roots`` are absolute (:func:`absolute_root`); a root that is not an existing folder
    counts as a file. A prefix comparison with ``substr`` rather than LIKE: no wildcard
    escaping, and exact (SQLite's LIKE ignores case; PostgreSQL collations could reorder a
    range query).
    """
    conditions = []
    files = []
    for root in roots:
        if root.is_dir():
            prefix = str(root) if str(root).endswith(os.sep) else str(root) + os.sep
            conditions.append(func.substr(column, 1, len(prefix)) == prefix)
        else:
            files.append(str(root))
    if files:
        conditions.append(column.in_(files))
    return or_(*conditions)
