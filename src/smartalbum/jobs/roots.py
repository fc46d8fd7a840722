"""``SMARTALBUM_JOBS__ROOTS``: the folders jobs may read and write.

Every path is resolved (symlinks followed, ``..`` removed) before it is compared, so a
symlink inside a root that points outside it is outside, for sources (an index job's files)
and destinations (an organise job's ``into``) alike. No roots: any path is allowed (the
server says so loudly at start; see web.server).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from smartalbum.jobs.errors import PathNotAllowed


def within_roots(path: str | os.PathLike[str], roots: Sequence[str | os.PathLike[str]]) -> bool:
    """Whether ``path``, resolved, lies in one of ``roots`` (resolved); True without roots."""
    if not roots:
        return True
    resolved = Path(path).expanduser().resolve()
    return any(resolved.is_relative_to(Path(r).expanduser().resolve()) for r in roots)


def check_within_roots(
    path: str | os.PathLike[str], roots: Sequence[str | os.PathLike[str]], what: str = "path"
) -> Path:
    """``path`` resolved, or :class:`PathNotAllowed` when it leaves the roots."""
    if not within_roots(path, roots):
        raise PathNotAllowed(f"{what} {str(path)!r} is outside the folders this server may use")
    return Path(path).expanduser().resolve()
