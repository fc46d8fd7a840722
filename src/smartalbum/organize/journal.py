"""The journal: every step of a run, so that it can be resumed or undone after any crash.

JSON lines in ``DIR/.smartalbum-organize-<time>-<id>.jsonl``, fsynced after each step,
locked (``flock``) while a run uses it. Per photo it records ``planned`` -> ``copied`` ->
``verified`` -> ``source_removed`` (and ``skipped``/``failed``, the folders and sidecars
created); :func:`replay` turns the records back into each photo's :class:`ItemState`.
Records are ASCII, so a line torn by a kill never splits a character; a torn last line is
cut off when the journal is opened again.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from smartalbum.organize.errors import InterruptedRunError, JournalError
from smartalbum.organize.fileops import fsync_dir
from smartalbum.organize.plan import PlanItem

JOURNAL_PREFIX = ".smartalbum-organize-"
JOURNAL_VERSION = 1


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
        fsync_dir(path.parent)
        return journal

    @classmethod
    def open(cls, path: Path) -> tuple[Journal, dict[str, Any], list[dict[str, Any]]]:
        """Open for appending; a torn last line (killed mid-write) is cut off first."""
        path = Path(path)
        try:
            handle = open(path, "r+", encoding="utf-8")  # noqa: SIM115 - kept open by Journal
        except OSError as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from exc
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
            raise JournalError(f"{path} is not a Smart Album organize journal")
        if records[0].get("version") != JOURNAL_VERSION:
            handle.close()
            raise JournalError(f"{path}: unsupported journal version {records[0].get('version')}")
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
            raise JournalError(
                f"{self.path} is in use by another organize run", status=409
            ) from exc

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


def _read_records(path: Path) -> list[dict[str, Any]]:
    """Every record, without taking the lock; a torn last line ends the reading."""
    with Path(path).open(encoding="utf-8") as f:
        records = []
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a torn last line
    return records


def read_states(path: Path) -> tuple[list[PlanItem], dict[int, ItemState]]:
    """The items and their states as the journal says now, read without taking its lock
    (what the catalog sync needs)."""
    items, states, _, _ = replay(_read_records(path)[1:])
    return items, states


def unfinished_journals(into: str | os.PathLike[str]) -> list[Path]:
    """Journals in ``into`` of runs that neither finished nor were rolled back: a run that
    was killed (or is running now), which left its files and hidden ``.part`` files."""
    out = []
    for path in find_journals(into):
        try:
            flags = replay(_read_records(path)[1:])[3]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not readable as ours: --resume says why, if asked
        if not flags.get("run_done") and not flags.get("rollback_done"):
            out.append(path)
    return out


def check_no_interrupted_run(into: str | os.PathLike[str]) -> None:
    """:class:`InterruptedRunError` when a plain new run into ``into`` would start beside
    an interrupted one instead of finishing it; the message offers ``--resume``."""
    unfinished = unfinished_journals(into)
    if unfinished:
        last = unfinished[-1]
        raise InterruptedRunError(
            f"an earlier run into {into} did not finish (journal {last}; its hidden .part "
            f"files are still there): finish it with `smartalbum organize --resume {last}`, "
            f"undo it with `--rollback {last}`, or pass --new-run to start another run anyway"
        )


def new_journal_path(into: Path) -> tuple[Path, str]:
    """A fresh journal name in ``into`` and the run id it carries."""
    run_id = secrets.token_hex(4)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return into / f"{JOURNAL_PREFIX}{stamp}-{run_id}.jsonl", run_id


def find_journals(into: str | os.PathLike[str]) -> list[Path]:
    """Journals of earlier runs in ``into`` (newest last)."""
    return sorted(Path(into).glob(f"{JOURNAL_PREFIX}*.jsonl"))
