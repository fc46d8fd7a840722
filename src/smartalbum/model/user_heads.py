"""The user's versions of a bundle's own heads (``album6``, ``seed3``), learned from corrections.

The shipped bundle is read-only (it lives inside the package); a head retrained from a
user's corrections is stored beside the catalog, in
``<data_dir>/heads/<bundle name>-<backbone digest>/<head>/``: one ``v<N>.json`` per
version (never deleted, so any version can be restored) and ``active.json`` saying which
one is used (``{"version": N}``, or 0 for the bundle's own head). The folder is keyed by
the backbone file's digest because a head only fits the embeddings it was trained on.

:func:`apply` swaps the active versions into a loaded :class:`Bundle`;
:class:`UserHeads` does that again whenever an ``active.json`` changed (checked at most
once a second), so a web server picks up a head that a worker retrained without a restart.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartalbum.atomic import write_atomic
from smartalbum.model.bundle import Bundle
from smartalbum.model.heads import Head

ACTIVE = "active.json"
BUNDLE_VERSION = 0  # "the bundle's own head"


def directory(data_dir: Path | str) -> Path:
    """Where user heads of every bundle live."""
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


def _head_dir(root: Path, bundle: Bundle, head: str) -> Path:
    return root / bundle_key(bundle) / head


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


def active_version(root: Path, bundle: Bundle, head: str) -> int:
    path = _head_dir(root, bundle, head) / ACTIVE
    try:
        return int(json.loads(path.read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return BUNDLE_VERSION


def versions(root: Path, bundle: Bundle, head: str) -> list[HeadVersion]:
    """Stored versions of ``head``, oldest first (the bundle's own is version 0)."""
    folder = _head_dir(root, bundle, head)
    active = active_version(root, bundle, head)
    out = [HeadVersion(head, BUNDLE_VERSION, bundle.head(head).version, 0.0, active == 0, {})]
    for path in sorted(folder.glob("v*.json"), key=lambda p: int(p.stem[1:])):
        data = json.loads(path.read_text())
        out.append(
            HeadVersion(
                head=head,
                version=int(path.stem[1:]),
                head_version=Head.from_dict(data["head"]).version,
                created_at=float(data.get("created_at", 0.0)),
                active=active == int(path.stem[1:]),
                report=data.get("report", {}),
            )
        )
    return out


def save(root: Path, bundle: Bundle, head: Head, report: dict[str, Any], *, activate: bool) -> int:
    """Store a new version of ``head`` (and make it the active one when ``activate``)."""
    folder = _head_dir(root, bundle, head.name)
    folder.mkdir(parents=True, exist_ok=True)
    taken = [int(p.stem[1:]) for p in folder.glob("v*.json")]
    number = max(taken, default=0) + 1
    body = {"head": head.to_dict(), "report": report, "created_at": time.time()}
    write_atomic(folder / f"v{number}.json", json.dumps(body))
    if activate:
        activate_version(root, bundle, head.name, number)
    return number


def activate_version(root: Path, bundle: Bundle, head: str, number: int) -> None:
    """Use version ``number`` of ``head`` (0: the bundle's own); KeyError when unknown."""
    bundle.head(head)  # unknown head -> KeyError with the available ones
    folder = _head_dir(root, bundle, head)
    if number != BUNDLE_VERSION and not (folder / f"v{number}.json").is_file():
        raise KeyError(f"head {head!r} has no version {number}")
    write_atomic(folder / ACTIVE, json.dumps({"version": number}))


def load_version(root: Path, bundle: Bundle, head: str, number: int) -> Head:
    if number == BUNDLE_VERSION:
        return bundle.head(head)
    data = json.loads((_head_dir(root, bundle, head) / f"v{number}.json").read_text())
    loaded = Head.from_dict(data["head"])
    loaded.concept_fc = bundle.concept_fc
    return loaded


class UserHeads:
    """Keeps a bundle's heads in step with the user's active versions."""

    CHECK_EVERY_S = 1.0

    def __init__(self, root: Path, bundle: Bundle) -> None:
        self.root = root
        self.bundle = bundle
        self.original = dict(bundle.heads)  # the shipped heads, for version 0
        self._stamp: tuple[Any, ...] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.refresh(force=True)

    def _signature(self) -> tuple[Any, ...]:
        out = []
        for name in self.original:
            path = _head_dir(self.root, self.bundle, name) / ACTIVE
            try:
                st = path.stat()
                out.append((name, st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((name, None, None))
        return tuple(out)

    def refresh(self, *, force: bool = False) -> bool:
        """Apply changed active versions; True when a head changed."""
        now = time.monotonic()
        if not force and now - self._checked < self.CHECK_EVERY_S:
            return False
        with self._lock:
            self._checked = now
            stamp = self._signature()
            if stamp == self._stamp and not force:
                return False
            self._stamp = stamp
            changed = False
            for name, shipped in self.original.items():
                number = active_version(self.root, self.bundle, name)
                try:
                    head = (
                        shipped
                        if number == BUNDLE_VERSION
                        else load_version(self.root, self.bundle, name, number)
                    )
                except (OSError, ValueError, KeyError):
                    head = shipped  # a damaged or missing version: the shipped head serves
                if self.bundle.heads.get(name) is not head:
                    self.bundle.heads[name] = head
                    changed = True
            return changed
