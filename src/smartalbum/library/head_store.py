"""The catalog's :class:`~smartalbum.model.user_heads.HeadStore`: head versions in the database.

Every machine of a deployment reads the same ``head_versions`` table, so a head retrained
and activated on one worker is served by the web nodes and the other workers at their
engine's next once-a-second check (model/user_heads.py). Handed to the engine by the
callers that have a catalog (``web.create_app``, the CLI's ``AppContext``, the jobs
worker) through :func:`catalog_head_store`, which also imports, once, what an older
version kept under ``<data_dir>/heads`` (see :func:`import_file_versions`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.library.db import session_scope
from smartalbum.library.schema_state import HeadVersionRow
from smartalbum.model.heads import Head
from smartalbum.model.user_heads import BUNDLE_VERSION, FileHeadStore, StoredVersion, directory

log = logging.getLogger(__name__)


class CatalogHeadStore:
    """Head versions in the catalog's ``head_versions`` table (one active per head)."""

    ADD_ATTEMPTS = 5  # two machines saving a version at once: the loser numbers again

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        bind = factory.kw.get("bind")
        url = bind.url.render_as_string(hide_password=True) if bind is not None else id(factory)
        self.key = f"catalog:{url}"

    def active(self, bundle_key: str, head: str) -> int:
        with self.factory() as s:
            number = s.scalar(
                select(HeadVersionRow.version).where(
                    HeadVersionRow.bundle_key == bundle_key,
                    HeadVersionRow.head == head,
                    HeadVersionRow.active.is_(True),
                )
            )
        return BUNDLE_VERSION if number is None else int(number)

    def stored(self, bundle_key: str, head: str) -> list[StoredVersion]:
        with self.factory() as s:
            rows = s.execute(
                select(HeadVersionRow.version, HeadVersionRow.body, HeadVersionRow.active)
                .where(HeadVersionRow.bundle_key == bundle_key, HeadVersionRow.head == head)
                .order_by(HeadVersionRow.version)
            ).all()
        return [StoredVersion(int(v), dict(body), bool(a)) for v, body, a in rows]

    def body(self, bundle_key: str, head: str, number: int) -> dict[str, Any] | None:
        with self.factory() as s:
            body = s.scalar(
                select(HeadVersionRow.body).where(
                    HeadVersionRow.bundle_key == bundle_key,
                    HeadVersionRow.head == head,
                    HeadVersionRow.version == number,
                )
            )
        return None if body is None else dict(body)

    def add(self, bundle_key: str, head: str, body: dict[str, Any], *, activate: bool) -> int:
        for attempt in range(self.ADD_ATTEMPTS):
            try:
                with session_scope(self.factory) as s:
                    last = s.scalar(
                        select(HeadVersionRow.version)
                        .where(HeadVersionRow.bundle_key == bundle_key, HeadVersionRow.head == head)
                        .order_by(HeadVersionRow.version.desc())
                        .limit(1)
                    )
                    number = int(last or 0) + 1
                    s.add(
                        HeadVersionRow(
                            bundle_key=bundle_key,
                            head=head,
                            version=number,
                            head_version=Head.from_dict(body["head"]).version,
                            body=body,
                            created_at=float(body.get("created_at", 0.0)),
                            active=False,
                        )
                    )
                break
            except IntegrityError:
                if attempt == self.ADD_ATTEMPTS - 1:
                    raise
        if activate:
            self.activate(bundle_key, head, number)
        return number

    def activate(self, bundle_key: str, head: str, number: int) -> None:
        mine = (HeadVersionRow.bundle_key == bundle_key, HeadVersionRow.head == head)
        with session_scope(self.factory) as s:
            if number != BUNDLE_VERSION:
                found = s.scalar(
                    select(HeadVersionRow.id).where(*mine, HeadVersionRow.version == number)
                )
                if found is None:
                    raise KeyError(f"head {head!r} has no version {number}")
            s.execute(
                update(HeadVersionRow).where(*mine).values(active=HeadVersionRow.version == number)
            )

    def signature(self, bundle_key: str, heads: Sequence[str]) -> Hashable:
        with self.factory() as s:
            rows = s.execute(
                select(HeadVersionRow.head, HeadVersionRow.version).where(
                    HeadVersionRow.bundle_key == bundle_key,
                    HeadVersionRow.head.in_(list(heads)),
                    HeadVersionRow.active.is_(True),
                )
            ).all()
        return tuple(sorted((str(h), int(v)) for h, v in rows))


def import_file_versions(store: CatalogHeadStore, root: Path) -> int:
    """Copy the filesystem store's versions under ``root`` into the catalog; returns how many.

    Idempotent: a version whose head (content hash) the catalog already has for that bundle
    and head is skipped, so running it on every start, on every machine, imports each file
    once. A head the catalog has no active version of takes the file store's active one.
    """
    files = FileHeadStore(root)
    if not files.root.is_dir():
        return 0
    imported = 0
    for bundle_dir in sorted(p for p in files.root.iterdir() if p.is_dir()):
        for head_dir in sorted(p for p in bundle_dir.iterdir() if p.is_dir()):
            key, head = bundle_dir.name, head_dir.name
            with store.factory() as s:
                known = dict(
                    s.execute(
                        select(HeadVersionRow.head_version, HeadVersionRow.version).where(
                            HeadVersionRow.bundle_key == key, HeadVersionRow.head == head
                        )
                    ).all()
                )
            numbers: dict[int, int] = {}  # file version -> catalog version
            added = 0
            for v in files.stored(key, head):
                try:
                    content = Head.from_dict(v.body["head"]).version
                except (KeyError, TypeError, ValueError):
                    log.warning(
                        "skipped a damaged head version file of %s/%s v%d", key, head, v.version
                    )
                    continue
                if content in known:
                    numbers[v.version] = int(known[content])
                    continue
                numbers[v.version] = known[content] = store.add(key, head, v.body, activate=False)
                added += 1
            imported += added
            active = files.active(key, head)
            if active in numbers and store.active(key, head) == BUNDLE_VERSION and added:
                store.activate(key, head, numbers[active])
    return imported


_imported: set[tuple[str, str]] = set()
_lock = threading.Lock()


def catalog_head_store(factory: sessionmaker[Session], data_dir: Path | str) -> CatalogHeadStore:
    """The catalog's head store. On the first call per process and catalog, what an older
    version kept in ``data_dir`` (head versions under ``heads/``, uploaded examples under
    ``examples/``) is imported into the catalog, with a log line saying so: no version or
    example a user made is lost when the catalog becomes their home."""
    from smartalbum.library import stored_files

    store = CatalogHeadStore(factory)
    root = directory(data_dir)
    marker = (store.key, str(Path(data_dir).expanduser()))
    with _lock:
        if marker in _imported:
            return store
        _imported.add(marker)
        heads = examples = 0
        try:
            heads = import_file_versions(store, root)
            examples = stored_files.import_folder(factory, stored_files.examples_dir(data_dir))
        except Exception:  # noqa: BLE001 - never block a start on an old file; say it
            log.exception("could not import the data dir %s into the catalog", data_dir)
        if heads or examples:
            log.warning(
                "imported %d head version(s) and %d example file(s) from the data dir %s "
                "into the catalog, their home from now on",
                heads,
                examples,
                data_dir,
            )
    return store
