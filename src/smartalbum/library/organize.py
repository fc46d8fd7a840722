"""Organising photos into folders by label and date, without ever losing or overwriting a file.

``smartalbum organize --into DIR`` first makes a :class:`Plan` (printed; ``--dry-run`` stops
there and touches nothing), then carries it out with a journal that makes every step
resumable and reversible. The rules, and why:

* **Nothing is overwritten.** A file is published under its final name with ``os.link``
  (or, on filesystems without hard links such as FAT/exFAT, by exclusively creating the
  name with ``O_EXCL`` and renaming over that placeholder of ours), both of which fail
  instead of replacing a file that appeared meanwhile; the next free name ``name (1).jpg``
  is taken. A file with identical content already at the target is recognised (size and
  SHA-256) and the photo is skipped.
* **Copies are verified.** A copy is written to a temporary name in the target directory,
  fsynced, hashed against the catalog's SHA-256 (a source edited since indexing is refused,
  not copied), published, the directory fsynced, and the published file re-hashed.
* **A move is a verified copy, then an unlink** of the source (and an fsync of its folder).
  Sources are only ever opened for reading, except for that final unlink in ``move`` mode.
* **link** makes a hard link; across filesystems (``EXDEV``) or where hard links are not
  supported it falls back to a symbolic link and says so (``how: symlink``). A hard link
  shares the file: editing the organised photo in place edits the original too.
* **The journal** (JSON lines, ``DIR/.smartalbum-organize-<time>-<id>.jsonl``, fsynced after
  each step) records ``planned`` -> ``copied`` -> ``verified`` -> ``source_removed`` per photo
  (and ``skipped``/``failed``, folders and sidecars created). After a crash or SIGKILL at any
  point, :func:`resume` finishes the run and :func:`rollback` undoes it: moved files go back
  to their original paths, files and folders the run created are removed, sidecars are
  restored — and nothing the run did not create is ever deleted (a published file is
  recognised as ours by the journal, or, between publication and its journal line, by
  being the same inode as our temporary file, whose name carries the run's id).

One file is organised per photo: its first present copy. Other identical copies stay where
they are (``smartalbum duplicates`` lists them). In ``move`` mode a photo whose identical
file is already at the target is skipped and its source kept: deleting a file because a
copy exists elsewhere is the user's decision, not a side effect of organising.

Placeholders of ``--layout`` (default ``{label}/{year}/{month}``): ``{label}`` (the user's
correction, else the prediction), ``{year}`` ``{month}`` ``{day}`` (taken-at, two-digit month
and day), ``{camera}``, ``{place}`` (city, else region, else country), ``{name}`` (file name
without extension) and ``{ext}`` (extension without the dot, as it was). Without ``{name}``
the layout names folders and the original file name is kept; with it, the last part is the
file name (the original extension is appended when ``{ext}`` is absent). Photos whose label
is uncertain (or that have none) go under ``review/`` followed by the same layout, so the
model's guess is still visible there. Values are made safe for any filesystem (no
separators, no ``..``, no characters FAT or Windows reject).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from smartalbum.errors import SmartAlbumError
from smartalbum.imaging.hashing import sha256_file
from smartalbum.library.xmp import Labels, XmpError, sidecar_content, sidecar_path

if TYPE_CHECKING:
    from smartalbum.library.catalog import PhotoRecord

Mode = Literal["copy", "link", "move"]
MODES: tuple[str, ...] = ("copy", "link", "move")
DEFAULT_LAYOUT = "{label}/{year}/{month}"
PLACEHOLDERS = frozenset({"label", "year", "month", "day", "camera", "place", "name", "ext"})
REVIEW_DIR = "review"
JOURNAL_PREFIX = ".smartalbum-organize-"
JOURNAL_VERSION = 1
UNKNOWN = "unknown"
_CHUNK = 1 << 20
_MAX_COLLISIONS = 10_000
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
#: errno values meaning "this filesystem cannot make hard links here".
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS, errno.EXDEV}

Progress = Callable[["PlanItem", str], None]
Fault = Callable[[str, "PlanItem"], None]


class OrganizeError(SmartAlbumError):
    """A problem with the request or the journal (bad layout, journal in use, disk full)."""


class SourceChangedError(OSError):
    """The source's bytes no longer match the catalog's SHA-256 (edited since indexing)."""


# --------------------------------------------------------------------------- the plan


@dataclass
class PlanItem:
    """One photo's step in the plan; ``dest`` is where it will be (absolute)."""

    index: int
    photo_id: int | None
    source: str
    sha256: str
    size: int
    dest: str
    action: str  # "copy" | "link" | "move" | "skip"
    label: str | None = None
    confidence: float | None = None
    label_source: str | None = None  # "correction" | "prediction"
    review: bool = False
    note: str = ""
    tags: list[str] = field(default_factory=list)  # written into the XMP sidecar

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    into: Path
    mode: str
    layout: str
    items: list[PlanItem]
    xmp: bool = False

    def counts(self) -> Counter[str]:
        return Counter(item.action for item in self.items)


def validate_layout(layout: str) -> list[str]:
    """The placeholders used by ``layout``; OrganizeError for unknown ones or unsafe paths."""
    names = []
    try:
        parsed = list(string.Formatter().parse(layout))
    except ValueError as exc:
        raise OrganizeError(f"bad layout {layout!r}: {exc}") from exc
    for _literal, name, spec, conversion in parsed:
        if name is not None:
            if name not in PLACEHOLDERS or spec or conversion:
                raise OrganizeError(
                    f"unknown placeholder {{{name}}} in layout; use "
                    + " ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS))
                )
            names.append(name)
    if layout.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", layout):
        raise OrganizeError("the layout must be relative to --into")
    if any(part in ("..", ".") for part in re.split(r"[/\\]", layout)):
        raise OrganizeError("the layout may not contain '.' or '..' folders")
    return names


def _safe(value: str | None, fallback: str = UNKNOWN) -> str:
    """One path component from any text: no separators, control or FAT-reserved chars."""
    text = _UNSAFE.sub("_", (value or "").strip()).strip(" .")
    return text[:100] or fallback


def _label_of(photo: PhotoRecord) -> tuple[str | None, float | None, str | None, bool]:
    """(label, confidence, source, review) — the correction wins; uncertain -> review."""
    if photo.correction is not None:
        return photo.correction, None, "correction", False
    p = photo.prediction
    if p is None:
        return None, None, None, True
    return p.label, p.confidence, "prediction", bool(p.uncertain)


def render(layout: str, photo: PhotoRecord, source: str) -> str:
    """The relative destination of ``photo`` (from ``source``, its file) under ``layout``."""
    names = validate_layout(layout)
    label, _, _, review = _label_of(photo)
    src = Path(source)
    when = photo.taken_at
    values = {
        "label": _safe(label, "unlabelled"),
        "year": f"{when.year:04d}" if when else UNKNOWN,
        "month": f"{when.month:02d}" if when else UNKNOWN,
        "day": f"{when.day:02d}" if when else UNKNOWN,
        "camera": _safe(photo.camera),
        "place": _safe(photo.city or photo.region or photo.country),
        "name": _safe(src.stem, "photo"),
        "ext": _safe(src.suffix.lstrip("."), ""),
    }
    parts = [_safe(p, UNKNOWN) for p in re.split(r"[/\\]", layout.format(**values)) if p.strip()]
    if "name" in names:
        if "ext" not in names:
            parts[-1] += src.suffix
    else:
        parts.append(_safe(src.name, "photo"))
    if review:
        parts.insert(0, REVIEW_DIR)
    return "/".join(parts)


def _candidates(dest: Path) -> Iterable[Path]:
    """``dest``, then ``stem (1).ext``, ``stem (2).ext``, ..."""
    yield dest
    stem, suffix = dest.stem, dest.suffix
    for k in range(1, _MAX_COLLISIONS):
        yield dest.with_name(f"{stem} ({k}){suffix}")
    raise OrganizeError(f"more than {_MAX_COLLISIONS} files named like {dest}")


def _same_content(path: Path, sha256: str, size: int) -> bool:
    """True when ``path`` is a regular file (symlinks followed) with exactly these bytes."""
    try:
        if not path.is_file() or (size and path.stat().st_size != size):
            return False
        return sha256_file(path) == sha256
    except OSError:
        return False


def make_plan(
    photos: Iterable[PhotoRecord],
    into: str | os.PathLike[str],
    *,
    mode: str = "copy",
    layout: str = DEFAULT_LAYOUT,
    xmp: bool = False,
    tags: Mapping[int, Sequence[str]] | None = None,
) -> Plan:
    """Decide where every photo goes. Reads the target to foresee collisions; writes nothing.

    One file per photo (its first present copy that exists); names already taken on disk
    or earlier in the plan get `` (1)``, `` (2)``...; identical content already at the target
    makes the photo a ``skip``. ``tags`` (photo id -> keywords) go into the XMP sidecars.
    """
    if mode not in MODES:
        raise OrganizeError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    validate_layout(layout)
    root = Path(into).expanduser().absolute()
    reserved: set[Path] = set()
    items: list[PlanItem] = []
    for photo in sorted(photos, key=lambda p: p.id):
        source = next((p for p in photo.paths if os.path.isfile(p)), None)
        label, confidence, label_source, review = _label_of(photo)
        item = PlanItem(
            index=len(items),
            photo_id=photo.id,
            source=source or (photo.path or ""),
            sha256=photo.sha256,
            size=int(photo.size or 0),
            dest="",
            action=mode,
            label=label,
            confidence=confidence,
            label_source=label_source,
            review=review,
            tags=list((tags or {}).get(photo.id, ())),
        )
        items.append(item)
        if source is None:
            item.action, item.note = "skip", "no present copy on disk"
            continue
        wanted = root / render(layout, photo, source)
        if wanted.absolute() == Path(source).absolute():
            item.dest, item.action, item.note = str(wanted), "skip", "already in place"
            continue
        for candidate in _candidates(wanted):
            if candidate in reserved:
                continue
            if os.path.lexists(candidate):
                if _same_content(candidate, photo.sha256, item.size):
                    item.dest, item.action = str(candidate), "skip"
                    item.note = "identical file already there"
                    break
                continue
            reserved.add(candidate)
            item.dest = str(candidate)
            if candidate != wanted:
                item.note = f"renamed: {wanted.name} is taken"
            break
    return Plan(into=root, mode=mode, layout=layout, items=items, xmp=xmp)


# --------------------------------------------------------------------------- low-level I/O


def _fsync_dir(path: Path) -> None:
    """Make a directory's entries (a new name, a removed name) durable."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # platforms that cannot open directories (Windows) have no dir fsync
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _copy_to_temp(source: Path, temp: Path, sha256: str) -> None:
    """Copy ``source`` to a new file ``temp`` (O_EXCL), fsync it, check the SHA-256.

    The hash is taken over the bytes read, so what was verified is what was written; a
    mismatch means the source changed since indexing and the copy is removed.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    digest = hashlib.sha256()
    fd = os.open(temp, flags, 0o644)
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb", closefd=True) as dst:
            while block := src.read(_CHUNK):
                digest.update(block)
                dst.write(block)
            dst.flush()
            os.fsync(dst.fileno())
        shutil.copystat(source, temp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if digest.hexdigest() != sha256:
        os.unlink(temp)
        raise SourceChangedError(
            errno.EIO,
            "the source changed since it was indexed (re-run smartalbum index)",
            str(source),
        )


def _existing_candidates(dest: Path, *, patience: int = 20) -> Iterable[Path]:
    """The collision names of ``dest`` that exist (gives up after ``patience`` free names:
    a run publishes at the first free name, but names may have been freed since)."""
    misses = 0
    for candidate in _candidates(dest):
        if os.path.lexists(candidate):
            misses = 0
            yield candidate
        else:
            misses += 1
            if misses > patience:
                return


def _samefile(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# --------------------------------------------------------------------------- the journal


@dataclass
class ItemState:
    """What the journal says happened to one plan item."""

    state: str = "planned"  # planned|copied|verified|source_removed|skipped|failed
    dest: str | None = None
    how: str | None = None  # copy | hardlink | symlink
    publishing: str | None = None  # placeholder name claimed (no-hard-link filesystems)
    error: str | None = None
    xmp: dict[str, Any] | None = None
    xmp_done: bool = False
    rolled_back: bool = False


class Journal:
    """Append-only JSON lines, fsynced per record; locked while a run uses it."""

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path = path
        self.handle = handle

    @classmethod
    def create(cls, path: Path, header: dict[str, Any]) -> Journal:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        journal = cls(path, os.fdopen(fd, "a", encoding="utf-8"))
        journal._lock()
        journal.write(header)
        _fsync_dir(path.parent)
        return journal

    @classmethod
    def open(cls, path: Path) -> tuple[Journal, dict[str, Any], list[dict[str, Any]]]:
        """Open for appending; a torn last line (killed mid-write) is cut off first."""
        path = Path(path)
        try:
            handle = open(path, "r+", encoding="utf-8")  # noqa: SIM115 - kept open by Journal
        except OSError as exc:
            raise OrganizeError(f"cannot open journal {path}: {exc}") from exc
        journal = cls(path, handle)
        journal._lock()
        text = handle.read()
        complete = text[: text.rfind("\n") + 1]
        if len(complete) != len(text):
            handle.truncate(len(complete.encode("utf-8")))
            handle.flush()
            os.fsync(handle.fileno())
        handle.seek(0, os.SEEK_END)
        records = [json.loads(line) for line in complete.splitlines() if line.strip()]
        if not records or records[0].get("op") != "header":
            handle.close()
            raise OrganizeError(f"{path} is not a Smart Album organize journal")
        if records[0].get("version") != JOURNAL_VERSION:
            handle.close()
            raise OrganizeError(f"{path}: unsupported journal version {records[0].get('version')}")
        return journal, records[0], records[1:]

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks
            return
        try:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self.handle.close()
            raise OrganizeError(f"{self.path} is in use by another organize run") from exc

    def write(self, record: dict[str, Any], *, sync: bool = True) -> None:
        self.handle.write(json.dumps(record) + "\n")  # ASCII: a torn line never splits a character
        self.handle.flush()
        if sync:
            os.fsync(self.handle.fileno())

    def sync(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.handle.close()


def replay(
    records: Iterable[dict[str, Any]],
) -> tuple[list[PlanItem], dict[int, ItemState], list[str], dict[str, Any]]:
    """Plan items, their states, the folders created, and run-level flags from a journal."""
    items: dict[int, PlanItem] = {}
    states: dict[int, ItemState] = {}
    dirs: list[str] = []
    flags: dict[str, Any] = {}
    for r in records:
        op = r.get("op")
        i = r.get("i")
        st = states.setdefault(i, ItemState()) if i is not None else None
        if op == "planned":
            items[i] = PlanItem(**r["item"])
        elif op == "mkdir":
            dirs.append(r["path"])
        elif op == "publishing":
            st.publishing = r["dest"]
        elif op == "copied":
            st.state, st.dest, st.how, st.publishing = "copied", r["dest"], r["how"], None
        elif op in ("verified", "source_removed"):
            st.state = op
        elif op == "skipped":
            st.state, st.dest, st.error = "skipped", r.get("dest"), r.get("reason")
        elif op == "failed":
            st.state, st.error = "failed", r.get("error")
        elif op == "unpublished":
            st.state, st.dest, st.how = "planned", None, None
        elif op == "xmp":
            st.xmp, st.xmp_done = r, False
        elif op in ("xmp_done", "xmp_skipped"):
            st.xmp_done = True
        elif op == "rolled_back":
            st.rolled_back = True
        elif op in ("rollback_start", "rollback_done", "run_done"):
            flags[op] = True
    ordered = [items[k] for k in sorted(items)]
    return ordered, {k: states.get(k, ItemState()) for k in items}, dirs, flags


# --------------------------------------------------------------------------- running


@dataclass
class Result:
    """What a run (or resume, or rollback) did."""

    journal: Path
    counts: Counter[str] = field(default_factory=Counter)
    failed: list[tuple[PlanItem, str]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # rollback: left alone, and why

    @property
    def ok(self) -> bool:
        return not self.failed and not self.conflicts


class _Run:
    """One execution (fresh or resumed) of a journaled plan."""

    def __init__(
        self,
        journal: Journal,
        header: dict[str, Any],
        items: list[PlanItem],
        states: dict[int, ItemState],
        dirs: list[str],
        progress: Progress | None,
        fault: Fault | None,
    ) -> None:
        self.journal = journal
        self.id = header["id"]
        self.mode = header["mode"]
        self.xmp = bool(header.get("xmp"))
        self.items = items
        self.states = states
        self.dirs = set(dirs)
        self.progress = progress
        self.fault = fault
        self.result = Result(journal=journal.path)

    # -- helpers -----------------------------------------------------------------------

    def log(self, op: str, item: PlanItem | None, **fields: Any) -> dict[str, Any]:
        """Journal one step (fsynced), then report it (progress) and run the test hook."""
        record = {"op": op, **({"i": item.index} if item is not None else {}), **fields}
        self.journal.write(record)
        if item is not None and self.progress is not None:
            self.progress(item, op)
        if self.fault is not None and item is not None:
            self.fault(op, item)
        return record

    def temp_for(self, item: PlanItem) -> Path:
        return Path(item.dest).parent / f".smartalbum-{self.id}-{item.index}.part"

    def drop_temp(self, item: PlanItem) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.temp_for(item).unlink()

    def makedirs(self, path: Path) -> None:
        missing = []
        while not path.exists():
            missing.append(path)
            path = path.parent
        for d in reversed(missing):
            self.log("mkdir", None, path=str(d))
            self.dirs.add(str(d))
            with contextlib.suppress(FileExistsError):
                os.mkdir(d)
            _fsync_dir(d.parent)

    # -- steps -------------------------------------------------------------------------

    def recover(self, item: PlanItem, st: ItemState) -> None:
        """Before redoing an unfinished item: adopt a file we published but did not journal
        (killed between the two), drop our placeholder and temporary files."""
        temp = self.temp_for(item)
        if st.publishing:
            claimed = Path(st.publishing)
            if _same_content(claimed, item.sha256, item.size):
                self.log("copied", item, dest=str(claimed), how="copy")
                st.state, st.dest, st.how = "copied", str(claimed), "copy"
            elif claimed.is_file() and claimed.stat().st_size == 0:
                claimed.unlink()  # our empty O_EXCL placeholder
            st.publishing = None
        if st.state == "planned" and temp.exists():
            for candidate in _existing_candidates(Path(item.dest)):
                if _samefile(candidate, temp):
                    self.log("copied", item, dest=str(candidate), how="copy")
                    st.state, st.dest, st.how = "copied", str(candidate), "copy"
                    break
        if st.state == "planned" and self.mode == "link":
            for candidate in _existing_candidates(Path(item.dest)):
                how = _our_link(candidate, Path(item.source))
                if how:
                    self.log("copied", item, dest=str(candidate), how=how)
                    st.state, st.dest, st.how = "copied", str(candidate), how
                    break
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()

    def publish_copy(self, item: PlanItem, st: ItemState) -> None:
        dest = Path(item.dest)
        self.makedirs(dest.parent)
        temp = self.temp_for(item)
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()  # ours: a leftover of an attempt that failed before publishing
        _copy_to_temp(Path(item.source), temp, item.sha256)
        evidence = False  # True while the temp file is the only proof the published file is ours
        try:
            for candidate in _candidates(dest):
                if os.path.lexists(candidate):
                    if _same_content(candidate, item.sha256, item.size):
                        self.skip(item, st, candidate, "identical file already there")
                        return
                    continue
                evidence = True
                how = self._link_or_claim(item, st, temp, candidate)
                if how is None:
                    evidence = False
                    continue  # the name was taken meanwhile
                _fsync_dir(candidate.parent)
                self.log("copied", item, dest=str(candidate), how="copy")
                evidence = False
                st.state, st.dest, st.how, st.publishing = "copied", str(candidate), "copy", None
                return
        finally:
            # Interrupted between a link and its journal line, the temporary file (a second
            # name of the published one) is what lets recover() recognise it: keep it then.
            with contextlib.suppress(FileNotFoundError):
                if not evidence or os.stat(temp).st_nlink <= 1:
                    temp.unlink()

    def _link_or_claim(
        self, item: PlanItem, st: ItemState, temp: Path, candidate: Path
    ) -> str | None:
        """Publish ``temp`` as ``candidate`` without replacing anything; None if taken."""
        try:
            os.link(temp, candidate)
            return "link"
        except FileExistsError:
            return None
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
        # No hard links here (FAT, exFAT, some network shares): claim the name exclusively,
        # journal the claim, then rename our file over our own placeholder.
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return None
        os.close(fd)
        self.log("publishing", item, dest=str(candidate))
        st.publishing = str(candidate)
        os.replace(temp, candidate)
        return "replace"

    def publish_link(self, item: PlanItem, st: ItemState) -> None:
        dest, source = Path(item.dest), Path(item.source)
        self.makedirs(dest.parent)
        for candidate in _candidates(dest):
            if os.path.lexists(candidate):
                if _samefile(candidate, source) or _same_content(candidate, item.sha256, item.size):
                    self.skip(item, st, candidate, "identical file already there")
                    return
                continue
            try:
                os.link(source, candidate)
                how = "hardlink"
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in _NO_LINKS:
                    raise
                try:
                    os.symlink(source.absolute(), candidate)
                except FileExistsError:
                    continue
                how = "symlink"
            _fsync_dir(candidate.parent)
            self.log("copied", item, dest=str(candidate), how=how)
            st.state, st.dest, st.how = "copied", str(candidate), how
            return

    def skip(self, item: PlanItem, st: ItemState, where: Path, reason: str) -> None:
        self.log("skipped", item, dest=str(where), reason=reason)
        st.state, st.dest, st.error = "skipped", str(where), reason

    def verify(self, item: PlanItem, st: ItemState, *, resumed: bool) -> None:
        dest = Path(st.dest or "")
        if st.how == "hardlink":
            good = _samefile(dest, Path(item.source)) and _same_content(dest, item.sha256, 0)
        elif st.how == "symlink":
            good = _our_link(dest, Path(item.source)) == "symlink" and _same_content(
                dest, item.sha256, 0
            )
        else:
            good = _same_content(dest, item.sha256, item.size)
        if not good:
            # A link only points at the source: removing it loses nothing. A copy made by
            # this very process a moment ago is ours too; but a copy found on resume may
            # have been edited by the user since, so it stays (a new copy will be made).
            if os.path.lexists(dest) and (st.how != "copy" or not resumed):
                dest.unlink()
                _fsync_dir(dest.parent)
            self.log("unpublished", item, dest=str(dest))
            st.state, st.dest, st.how = "planned", None, None
            raise SourceChangedError(
                errno.EIO,
                "the published file does not match the catalog's "
                "SHA-256 (source changed since indexing?)",
                str(dest),
            )
        self.log("verified", item)
        st.state = "verified"

    def remove_source(self, item: PlanItem, st: ItemState, *, recheck: bool) -> None:
        source = Path(item.source)
        if os.path.lexists(source):
            if recheck and not _same_content(source, item.sha256, item.size):
                raise SourceChangedError(
                    errno.EIO, "the source changed since it was copied; it was kept", str(source)
                )
            os.unlink(source)
            _fsync_dir(source.parent)
        self.log("source_removed", item)
        st.state = "source_removed"

    def sidecar(self, item: PlanItem, st: ItemState) -> None:
        """Write or merge the XMP sidecar next to the published (or identical) file."""
        if st.xmp_done or not st.dest:
            return
        path = sidecar_path(st.dest)
        if st.xmp is not None and _digest_of(path) == st.xmp["sha256"]:
            # Killed after writing but before journaling it: done (and not merged twice,
            # which would lose the original in the journal's "previous").
            _drop(_sidecar_temp(path, self.id, item.index))
            self.log("xmp_done", item, path=str(path))
            st.xmp_done = True
            return
        labels = Labels(
            item.label, item.confidence, item.label_source, item.review, tuple(item.tags)
        )
        for _attempt in range(3):
            try:
                previous = path.read_bytes()
            except FileNotFoundError:
                previous = None
            try:
                content = sidecar_content(labels, previous)
            except XmpError as exc:
                self.result.counts["xmp_unreadable"] += 1
                self.log("xmp_skipped", item, path=str(path), reason=str(exc))
                st.xmp_done = True
                return
            digest = hashlib.sha256(content).hexdigest()
            st.xmp = self.log(
                "xmp",
                item,
                path=str(path),
                created=previous is None,
                sha256=digest,
                previous=None if previous is None else base64.b64encode(previous).decode("ascii"),
            )
            if _write_sidecar(path, content, previous, self.id, item.index):
                self.log("xmp_done", item, path=str(path))
                st.xmp_done = True
                return
        raise OSError(errno.EAGAIN, "the sidecar kept changing while it was written", str(path))

    # -- driver ------------------------------------------------------------------------

    def run_item(self, item: PlanItem, st: ItemState, *, resumed: bool) -> None:
        if st.state in ("planned", "failed"):
            st.state = "planned"
            if item.action == "skip":
                where = Path(item.dest) if item.dest else None
                if where is not None and not _same_content(where, item.sha256, item.size):
                    where = None  # e.g. "no present copy": nothing there to attach a sidecar to
                self.log(
                    "skipped", item, dest=None if where is None else str(where), reason=item.note
                )
                st.state, st.dest, st.error = (
                    "skipped",
                    None if where is None else str(where),
                    item.note,
                )
            else:
                if resumed:
                    self.recover(item, st)
                if st.state == "planned":
                    if self.mode == "link":
                        self.publish_link(item, st)
                    else:
                        self.publish_copy(item, st)
        if resumed and st.state != "planned" and item.dest:
            self.drop_temp(item)  # journaled as copied: the temporary file is no longer needed
        if st.state == "copied":
            self.verify(item, st, resumed=resumed)
        if self.xmp and st.state in ("verified", "source_removed", "skipped"):
            self.sidecar(item, st)
        if self.mode == "move" and st.state == "verified":
            self.remove_source(item, st, recheck=resumed)

    def run(self, *, resumed: bool) -> Result:
        for item in self.items:
            st = self.states.setdefault(item.index, ItemState())
            try:
                self.run_item(item, st, resumed=resumed)
            except OSError as exc:
                message = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
                self.log("failed", item, error=message)
                st.state, st.error = "failed", message
                if exc.errno == errno.ENOSPC:
                    self.result.failed.append((item, message))
                    raise OrganizeError(
                        f"disk full at {item.dest}; free some space and run "
                        f"`smartalbum organize --resume {self.journal.path}`"
                    ) from exc
            self.tally(item, st)
        self.log("run_done", None)
        return self.result

    def tally(self, item: PlanItem, st: ItemState) -> None:
        c = self.result.counts
        if st.state == "failed":
            self.result.failed.append((item, st.error or "failed"))
        elif st.state == "skipped":
            c["skipped"] += 1
        elif st.state in ("verified", "source_removed"):
            c[{"copy": "copied", "move": "moved", "link": "linked"}[self.mode]] += 1
            if st.how == "symlink":
                c["symlinked"] += 1
        if st.xmp_done and st.xmp:
            c["xmp"] += 1


def _our_link(candidate: Path, source: Path) -> str | None:
    """ "hardlink"/"symlink" when ``candidate`` is a link to ``source`` (link mode), else None."""
    if candidate.is_symlink():
        try:
            return "symlink" if Path(os.readlink(candidate)) == source.absolute() else None
        except OSError:
            return None
    return "hardlink" if _samefile(candidate, source) else None


def _sidecar_temp(path: Path, run_id: str, index: int) -> Path:
    return path.with_name(f".smartalbum-{run_id}-{index}.xmp.part")


def _digest_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _drop(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _write_sidecar(
    path: Path, content: bytes, previous: bytes | None, run_id: str, index: int
) -> bool:
    """Write ``content`` atomically; False when the sidecar changed since it was read."""
    temp = _sidecar_temp(path, run_id, index)
    _drop(temp)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    try:
        if previous is None:
            try:
                os.link(temp, path)  # never replaces a sidecar that appeared meanwhile
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in _NO_LINKS:
                    raise
                try:
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                except FileExistsError:
                    return False
                os.replace(temp, path)
        else:
            try:
                if path.read_bytes() != previous:
                    return False
            except FileNotFoundError:
                return False
            os.replace(temp, path)  # the merged sidecar replaces the one it was merged from
        _fsync_dir(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


# --------------------------------------------------------------------------- public API


def _new_journal_path(into: Path) -> tuple[Path, str]:
    run_id = secrets.token_hex(4)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return into / f"{JOURNAL_PREFIX}{stamp}-{run_id}.jsonl", run_id


def execute(plan: Plan, *, progress: Progress | None = None, fault: Fault | None = None) -> Result:
    """Carry out ``plan`` under a new journal in ``plan.into``.

    ``progress(item, step)`` is called after every journaled step; ``fault(step, item)``
    too (tests use it to simulate a crash right after a given step).
    """
    created = []
    path = plan.into
    while not path.exists():
        created.append(str(path))
        path = path.parent
    plan.into.mkdir(parents=True, exist_ok=True)
    journal_path, run_id = _new_journal_path(plan.into)
    header = {
        "op": "header",
        "version": JOURNAL_VERSION,
        "id": run_id,
        "mode": plan.mode,
        "into": str(plan.into),
        "layout": plan.layout,
        "xmp": plan.xmp,
        "created": datetime.now(timezone.utc).isoformat(),
        "created_dirs": created[::-1],
    }
    journal = Journal.create(journal_path, header)
    try:
        for item in plan.items:
            journal.write({"op": "planned", "i": item.index, "item": item.to_dict()}, sync=False)
        journal.sync()
        run = _Run(journal, header, plan.items, {}, [], progress, fault)
        return run.run(resumed=False)
    finally:
        journal.close()


def resume(
    journal_path: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    fault: Fault | None = None,
) -> Result:
    """Finish an interrupted run: every step already journaled is not redone."""
    journal, header, records = Journal.open(Path(journal_path))
    try:
        items, states, dirs, flags = replay(records)
        if flags.get("rollback_start"):
            raise OrganizeError(f"{journal.path} was rolled back; it cannot be resumed")
        run = _Run(journal, header, items, states, dirs, progress, fault)
        return run.run(resumed=True)
    finally:
        journal.close()


def rollback(journal_path: str | os.PathLike[str], *, progress: Progress | None = None) -> Result:
    """Undo a run (finished or not): restore moved files, remove what it created.

    Anything that changed since (a destination edited, a source path taken by another
    file) is left alone and reported in ``Result.conflicts``. After a clean rollback the
    journal itself is removed, with the folders the run created.
    """
    journal, header, records = Journal.open(Path(journal_path))
    items, states, dirs, _ = replay(records)
    run = _Run(journal, header, items, states, dirs, progress, None)
    result = run.result
    try:
        run.log("rollback_start", None)
        for item in reversed(items):
            st = states[item.index]
            if st.rolled_back:
                continue
            try:
                _undo_item(run, item, st)
            except OSError as exc:
                result.conflicts.append(f"{item.dest}: {exc}")
                continue
            run.log("rolled_back", item)
            st.rolled_back = True
        leftover = _remove_dirs(sorted(run.dirs, key=len, reverse=True))
        run.log("rollback_done", None)
    finally:
        journal.close()
    if result.ok and not leftover:
        journal.path.unlink()
        _fsync_dir(journal.path.parent)
        _remove_dirs([d for d in reversed(header.get("created_dirs", []))])
    return result


def _remove_dirs(dirs: Iterable[str]) -> list[str]:
    """rmdir each folder if empty (deepest first); the ones still holding files."""
    left = []
    for d in dirs:
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            left.append(d)
    return left


def _undo_item(run: _Run, item: PlanItem, st: ItemState) -> None:
    result = run.result
    # 1. Sidecars: back to what they were, unless someone changed them since.
    if st.xmp:
        path = Path(st.xmp["path"])
        _drop(_sidecar_temp(path, run.id, item.index))
        current = _digest_of(path)
        ours = current == st.xmp["sha256"]
        if ours and st.xmp["created"]:
            path.unlink()
        elif ours:
            _write_sidecar_restore(path, base64.b64decode(st.xmp["previous"]))
        elif current is not None and st.xmp_done:
            result.conflicts.append(f"{path}: sidecar changed since; left as it is")
    # 2. Files not journaled as published yet: adopt them (then undo) or drop temporaries.
    if st.state in ("planned", "failed") and item.action != "skip":
        run.recover(item, st)
    if st.state in ("copied", "verified", "source_removed"):
        run.drop_temp(item)
        dest = Path(st.dest or "")
        source = Path(item.source)
        if st.state == "source_removed":
            if os.path.lexists(source):
                if not _same_content(source, item.sha256, item.size):
                    result.conflicts.append(
                        f"{source}: another file now has this name; the photo stays at {dest}"
                    )
                    return
            else:
                _restore(run, item, dest, source)
                result.counts["restored"] += 1
        if st.how == "copy":
            mine = _same_content(dest, item.sha256, item.size) and not dest.is_symlink()
        else:
            mine = _our_link(dest, source) == st.how
        if mine:
            dest.unlink()
            _fsync_dir(dest.parent)
            result.counts["removed"] += 1
        elif os.path.lexists(dest):
            result.conflicts.append(f"{dest}: changed since it was organised; left as it is")
    elif st.state == "skipped":
        result.counts["untouched"] += 1


def _restore(run: _Run, item: PlanItem, dest: Path, source: Path) -> None:
    """Put a moved photo back at its original path (never replacing anything there)."""
    if not source.parent.exists():
        source.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(dest, source)  # same filesystem: instant, atomic, no-replace
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        temp = source.with_name(f".smartalbum-{run.id}-{item.index}.restore")
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        _copy_to_temp(dest, temp, item.sha256)
        try:
            fd = os.open(source, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
            os.replace(temp, source)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    _fsync_dir(source.parent)
    if not _same_content(source, item.sha256, item.size):
        raise SourceChangedError(errno.EIO, "restored file does not verify", str(source))


def _write_sidecar_restore(path: Path, previous: bytes) -> None:
    temp = path.with_name(f".{path.name}.smartalbum-restore")
    with open(temp, "wb") as f:
        f.write(previous)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
    _fsync_dir(path.parent)


def find_journals(into: str | os.PathLike[str]) -> list[Path]:
    """Journals of earlier runs in ``into`` (newest last)."""
    return sorted(Path(into).glob(f"{JOURNAL_PREFIX}*.jsonl"))
