"""Example photos -> catalog photo ids: by path, by content, or by indexing them now.

Picking examples from the library costs nothing (the photo and its embedding are in the
catalog). An example given as a file the catalog does not know yet (an upload, a folder
outside the library) is indexed first, once, through the same indexer as
``smartalbum index``; that is the only time the backbone runs for a category.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.categories.errors import PhotoNotInCatalog
from smartalbum.imaging.files import find_photos
from smartalbum.library.schema import File, Photo


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders expanded to the photos under them (absolute paths)."""
    out: list[Path] = []
    for p in paths:
        path = Path(p).expanduser()
        if not path.exists():
            raise PhotoNotInCatalog(f"no such file or directory: {p}")
        if path.is_dir():
            out.extend(Path(f).resolve() for f in find_photos([path], recursive=True))
        else:
            out.append(path.resolve())
    return out


def _lookup(session: Session, paths: list[Path]) -> dict[Path, int]:
    rows = session.execute(
        select(File.path, File.photo_id).where(File.path.in_([str(p) for p in paths]))
    )
    return {Path(p): int(pid) for p, pid in rows}


def photo_ids_for_paths(
    factory: sessionmaker[Session], paths: list[Path], engine: Any = None
) -> list[int]:
    """Photo ids of these files, indexing the unknown ones with ``engine`` (required then)."""
    if not paths:
        return []
    with factory() as s:
        known = _lookup(s, paths)
    missing = [p for p in paths if p not in known]
    if missing:
        if engine is None:
            raise PhotoNotInCatalog(
                f"{len(missing)} example photo(s) are not in the catalog (first: {missing[0]})"
            )
        from smartalbum.library.indexer import Indexer

        Indexer(factory, engine, workers=1).run(missing)
        with factory() as s:
            known.update(_lookup(s, missing))
    still = [p for p in paths if p not in known]
    if still:
        raise PhotoNotInCatalog(
            f"could not index example photo(s): {', '.join(map(str, still[:3]))}"
        )
    return [known[p] for p in paths]


def photo_ids_for_hashes(session: Session, hashes: list[str]) -> list[int]:
    """Photo ids for content hashes (the web page picks examples by sha256)."""
    wanted = [h.strip().lower() for h in hashes if h.strip()]
    query = select(Photo.sha256, Photo.id).where(Photo.sha256.in_(wanted))
    rows = {sha: int(pid) for sha, pid in session.execute(query)}
    unknown = [h for h in wanted if h not in rows]
    if unknown:
        raise PhotoNotInCatalog(f"no photo with sha256 {unknown[0]} in the catalog")
    return [int(rows[h]) for h in wanted]
