"""The user's versions of a bundle's own heads (``album6``, ``seed3``), learned from corrections.

The shipped bundle is read-only (it lives inside the package); a head retrained from a
user's corrections is kept as a numbered *version* (never deleted, so any version can be
restored) with one of them active (0: the bundle's own head). Versions are keyed by
:func:`bundle_key` (bundle name + backbone digest) because a head only fits the
embeddings it was trained on.

Where versions live is a :class:`HeadStore` the engine is handed. This layer must not
import the catalog, so it defines the protocol and keeps the filesystem store
(:class:`FileHeadStore`, ``<data_dir>/heads/<bundle key>/<head>/v<N>.json`` +
``active.json``) for catalog-less use; the catalog-backed store (library/head_store.py)
is what every process with a catalog uses, so a version activated on one machine is
served by all of them (issue 14).

:class:`UserHeads` swaps the active versions into a loaded :class:`Bundle` and re-checks
the store at most once a second, so a web server picks up a head that a worker retrained
without a restart.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from smartalbum.atomic import write_atomic
from smartalbum.model.bundle import Bundle
from smartalbum.model.heads import Head

ACTIVE = "active.json"
BUNDLE_VERSION = 0  # "the bundle's own head"


def directory(data_dir: Path | str) -> Path:
    """Where the filesystem store keeps user heads of every bundle."""
    return Path(data_dir).expanduser() / "heads"


_digests: dict[tuple[str, int, int], str] = {}


def bundle_key(bundle: Bundle) -> str:
    """``<bundle name>-<backbone digest>``: stable while the heads change (unlike
    ``Bundle.version``), different for another backbone."""
    path = bundle.backbone_path
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    digest = _digests.get(key)
    if digest is None:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digest = _digests[key] = h.hexdigest()[:16]
    return f"{bundle.name}-{digest}"


@dataclass(frozen=True)
class StoredVersion:
    """A stored version as a store returns it: ``body`` is ``{"head": <Head dict>,
    "report": {...}, "created_at": <epoch s>}`` (the on-disk ``v<N>.json``)."""

    version: int
    body: dict[str, Any]
    active: bool = False


@runtime_checkable
class HeadStore(Protocol):
    """Where head versions and the active choice live (filesystem or catalog)."""

    #: Identity of the place (engines are cached per store: same key, same versions).
    key: str

    def active(self, bundle_key: str, head: str) -> int:
        """The active version number (0: the bundle's own head)."""
        ...

    def stored(self, bundle_key: str, head: str) -> list[StoredVersion]:
        """Every stored version, oldest first (not version 0)."""
        ...

    def body(self, bundle_key: str, head: str, number: int) -> dict[str, Any] | None:
        """One version's body, None when there is no such version."""
        ...

    def add(self, bundle_key: str, head: str, body: dict[str, Any], *, activate: bool) -> int:
        """Store a new version (numbered after the last one); returns its number."""
        ...

    def activate(self, bundle_key: str, head: str, number: int) -> None:
        """Make ``number`` active (0: the bundle's own); KeyError when it is unknown."""
        ...

    def signature(self, bundle_key: str, heads: Sequence[str]) -> Hashable:
        """Something cheap that changes whenever an active version of ``heads`` changes."""
        ...


class FileHeadStore:
    """Versions under ``root/<bundle key>/<head>/``: for catalog-less use (and the one-time
    import into a catalog, library/head_store.py)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()
        self.key = f"file:{self.root.resolve()}"

    def folder(self, bundle_key: str, head: str) -> Path:
        return self.root / bundle_key / head

    def active(self, bundle_key: str, head: str) -> int:
        try:
            data = json.loads((self.folder(bundle_key, head) / ACTIVE).read_text())
            return int(data["version"])
        except (OSError, ValueError, KeyError, TypeError):
            return BUNDLE_VERSION

    def _numbers(self, bundle_key: str, head: str) -> list[int]:
        out = []
        for path in self.folder(bundle_key, head).glob("v*.json"):
            if path.stem[1:].isdigit():
                out.append(int(path.stem[1:]))
        return sorted(out)

    def stored(self, bundle_key: str, head: str) -> list[StoredVersion]:
        active = self.active(bundle_key, head)
        out = []
        for number in self._numbers(bundle_key, head):
            body = self.body(bundle_key, head, number)
            if body is not None:
                out.append(StoredVersion(number, body, number == active))
        return out

    def body(self, bundle_key: str, head: str, number: int) -> dict[str, Any] | None:
        try:
            return json.loads((self.folder(bundle_key, head) / f"v{number}.json").read_text())
        except (OSError, ValueError):
            return None

    def add(self, bundle_key: str, head: str, body: dict[str, Any], *, activate: bool) -> int:
        folder = self.folder(bundle_key, head)
        folder.mkdir(parents=True, exist_ok=True)
        number = max(self._numbers(bundle_key, head), default=0) + 1
        write_atomic(folder / f"v{number}.json", json.dumps(body))
        if activate:
            self.activate(bundle_key, head, number)
        return number

    def activate(self, bundle_key: str, head: str, number: int) -> None:
        folder = self.folder(bundle_key, head)
        if number != BUNDLE_VERSION and not (folder / f"v{number}.json").is_file():
            raise KeyError(f"head {head!r} has no version {number}")
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / ACTIVE, json.dumps({"version": number}))

    def signature(self, bundle_key: str, heads: Sequence[str]) -> Hashable:
        out = []
        for name in heads:
            try:
                st = (self.folder(bundle_key, name) / ACTIVE).stat()
                out.append((name, st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((name, None, None))
        return tuple(out)


def as_store(where: HeadStore | Path | str) -> HeadStore:
    """A store: ``where`` itself, or the filesystem store rooted at a folder."""
    if isinstance(where, (str, Path)):
        return FileHeadStore(where)
    return where


@dataclass(frozen=True)
class HeadVersion:
    """One stored version of a head."""

    head: str
    version: int
    head_version: str  # the head's content hash (what predictions are keyed by)
    created_at: float
    active: bool
    report: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "version": self.version,
            "head_version": self.head_version,
            "created_at": self.created_at,
            "active": self.active,
            "report": self.report,
        }


def active_version(where: HeadStore | Path, bundle: Bundle, head: str) -> int:
    return as_store(where).active(bundle_key(bundle), head)


def versions(where: HeadStore | Path, bundle: Bundle, head: str) -> list[HeadVersion]:
    """Stored versions of ``head``, oldest first (the bundle's own is version 0)."""
    store = as_store(where)
    shipped = bundle.head(head)  # unknown head -> KeyError with the available ones
    stored = store.stored(bundle_key(bundle), head)
    active = next((v.version for v in stored if v.active), BUNDLE_VERSION)
    out = [HeadVersion(head, BUNDLE_VERSION, shipped.version, 0.0, active == 0, {})]
    for v in stored:
        out.append(
            HeadVersion(
                head=head,
                version=v.version,
                head_version=Head.from_dict(v.body["head"]).version,
                created_at=float(v.body.get("created_at", 0.0)),
                active=v.active,
                report=v.body.get("report", {}),
            )
        )
    return out


def save(
    where: HeadStore | Path, bundle: Bundle, head: Head, report: dict[str, Any], *, activate: bool
) -> int:
    """Store a new version of ``head`` (and make it the active one when ``activate``)."""
    body = {"head": head.to_dict(), "report": report, "created_at": time.time()}
    return as_store(where).add(bundle_key(bundle), head.name, body, activate=activate)


def activate_version(where: HeadStore | Path, bundle: Bundle, head: str, number: int) -> None:
    """Use version ``number`` of ``head`` (0: the bundle's own); KeyError when unknown."""
    bundle.head(head)  # unknown head -> KeyError with the available ones
    as_store(where).activate(bundle_key(bundle), head, number)


def load_version(where: HeadStore | Path, bundle: Bundle, head: str, number: int) -> Head:
    if number == BUNDLE_VERSION:
        return bundle.head(head)
    body = as_store(where).body(bundle_key(bundle), head, number)
    if body is None:
        raise KeyError(f"head {head!r} has no version {number}")
    loaded = Head.from_dict(body["head"])
    loaded.concept_fc = bundle.concept_fc
    return loaded


class UserHeads:
    """Keeps a bundle's heads in step with the user's active versions in ``store``."""

    CHECK_EVERY_S = 1.0

    def __init__(self, store: HeadStore | Path, bundle: Bundle) -> None:
        self.store = as_store(store)
        self.bundle = bundle
        self.key = bundle_key(bundle)
        self.original = dict(bundle.heads)  # the shipped heads, for version 0
        self._stamp: Hashable | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.refresh(force=True)

    def refresh(self, *, force: bool = False) -> bool:
        """Apply changed active versions; True when a head changed."""
        now = time.monotonic()
        if not force and now - self._checked < self.CHECK_EVERY_S:
            return False
        with self._lock:
            self._checked = now
            try:
                stamp = self.store.signature(self.key, list(self.original))
            except Exception:  # noqa: BLE001 - a store that cannot answer: keep serving
                return False
            if stamp == self._stamp and not force:
                return False
            self._stamp = stamp
            changed = False
            for name, shipped in self.original.items():
                try:
                    number = self.store.active(self.key, name)
                    head = (
                        shipped
                        if number == BUNDLE_VERSION
                        else load_version(self.store, self.bundle, name, number)
                    )
                except Exception:  # noqa: BLE001 - a damaged or missing version: the shipped head
                    head = shipped
                if self.bundle.heads.get(name) is not head:
                    current = self.bundle.heads.get(name)
                    if current is None or current.version != head.version:
                        self.bundle.heads[name] = head
                        changed = True
            return changed
