"""Files the app itself keeps (uploaded category examples), stored in the catalog by SHA-256.

An uploaded example is indexed like any photo, so the catalog records a path for it: the
receiving node's ``<data_dir>/examples/<sha256><suffix>``. That copy is only a cache; the
bytes live in ``stored_files`` so every node can use the example: a thumbnail or an
explanation on another node reads them from here (:func:`photo_bytes`), and
:func:`local_copy` rebuilds the cached file where a path is needed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.atomic import write_atomic
from smartalbum.library.db import session_scope
from smartalbum.library.schema import File, Photo
from smartalbum.library.schema_state import StoredFile

log = logging.getLogger(__name__)

EXAMPLES = "examples"  # the cache folder under the data dir
EXAMPLE_NAME = re.compile(r"^([0-9a-f]{64})(\.[A-Za-z0-9]{1,7})?$")


def examples_dir(data_dir: Path | str) -> Path:
    return Path(data_dir).expanduser() / EXAMPLES


def put(factory: sessionmaker[Session], data: bytes, name: str, kind: str = "example") -> str:
    """Keep ``data`` (idempotent: the same bytes are stored once); returns their SHA-256."""
    sha = hashlib.sha256(data).hexdigest()
    with factory() as s:
        if s.get(StoredFile, sha) is not None:
            return sha
    try:
        with session_scope(factory) as s:
            s.add(StoredFile(sha256=sha, kind=kind, name=name[:255], size=len(data), data=data))
    except IntegrityError:  # stored by another request or node meanwhile
        pass
    return sha


def get(factory: sessionmaker[Session], sha256: str) -> bytes | None:
    with factory() as s:
        return s.scalar(select(StoredFile.data).where(StoredFile.sha256 == sha256))


def photo_bytes(factory: sessionmaker[Session], photo_id: int) -> bytes | None:
    """The stored bytes of catalog photo ``photo_id`` (None: not a file the app keeps)."""
    with factory() as s:
        return s.scalar(
            select(StoredFile.data)
            .join(Photo, Photo.sha256 == StoredFile.sha256)
            .where(Photo.id == photo_id)
        )


def path_bytes(factory: sessionmaker[Session], path: Path | str) -> bytes | None:
    """The stored bytes of the file the catalog knows at ``path``, or whose name is a stored
    file's ``<sha256><suffix>`` (an example's path on another node)."""
    with factory() as s:
        data = s.scalar(
            select(StoredFile.data)
            .join(Photo, Photo.sha256 == StoredFile.sha256)
            .join(File, File.photo_id == Photo.id)
            .where(File.path == str(path))
        )
    if data is not None:
        return data
    match = EXAMPLE_NAME.match(Path(path).name)
    return get(factory, match.group(1)) if match else None


def local_copy(
    factory: sessionmaker[Session], path: Path | str, data_dir: Path | str
) -> Path | None:
    """``path`` if it exists here; else the stored file's bytes written to this node's
    ``<data_dir>/examples`` cache (at ``path`` itself when it lies there); None when the
    catalog keeps no such file."""
    path = Path(path)
    if path.is_file():
        return path
    data = path_bytes(factory, path)
    if data is None:
        return None
    folder = examples_dir(data_dir)
    target = path if path.parent == folder else folder / path.name
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(target, data)
    return target


def import_folder(factory: sessionmaker[Session], folder: Path) -> int:
    """Store every ``<sha256><suffix>`` file of an older version's examples folder that the
    catalog lacks; returns how many (idempotent: run on every start)."""
    if not folder.is_dir():
        return 0
    with factory() as s:
        known = set(s.scalars(select(StoredFile.sha256)))
    imported = 0
    for path in sorted(folder.iterdir()):
        match = EXAMPLE_NAME.match(path.name)
        if not match or match.group(1) in known or not path.is_file():
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != match.group(1):
            log.warning("skipped %s: its bytes do not match its name", path)
            continue
        put(factory, data, path.name)
        imported += 1
    return imported
