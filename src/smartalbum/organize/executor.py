"""Carrying out a plan under its journal: fresh (:func:`execute`) or resumed (:func:`resume`).

The rules, and why:

* **Nothing is overwritten.** A file is published under its final name with
  :func:`~smartalbum.organize.fileops.publish_new` (a hard link, or an exclusively created
  placeholder renamed over), which fails instead of replacing a file that appeared
  meanwhile; the next free name ``name (1).jpg`` is taken. A file with identical content
  already at the target is recognised (size and SHA-256) and the photo is skipped.
* **Copies are verified.** A copy is written to a temporary name in the target directory,
  fsynced, hashed against the catalog's SHA-256 (a source edited since indexing is refused,
  not copied), published, the directory fsynced, and the published file re-hashed.
* **A move is a verified copy, then an unlink** of the source (and an fsync of its folder).
  Sources are only ever opened for reading, except for that final unlink in ``move`` mode.
* **link** makes a hard link; across filesystems (``EXDEV``) or where hard links are not
  supported it falls back to a symbolic link and says so (``how: symlink``). A hard link
  shares the file: editing the organised photo in place edits the original too.
* **Every step is journaled before the next one**, so a run killed at any point is finished
  by :func:`resume` (nothing journaled is redone) or undone by
  :func:`~smartalbum.organize.undo.rollback`. A file published but not yet journaled is
  recognised as ours by being the same inode as our temporary file, whose name carries the
  run's id.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from smartalbum.errors import is_disk_full
from smartalbum.library.xmp import Labels, XmpError, sidecar_content, sidecar_path
from smartalbum.organize import sidecars
from smartalbum.organize.errors import DiskFullError, JournalError, SourceChangedError
from smartalbum.organize.fileops import (
    NO_LINKS,
    copy_verified,
    drop,
    fsync_dir,
    our_link,
    publish_new,
    same_content,
    samefile,
)
from smartalbum.organize.journal import (
    JOURNAL_VERSION,
    ItemState,
    Journal,
    new_journal_path,
    replay,
)
from smartalbum.organize.layout import candidates, existing_candidates
from smartalbum.organize.plan import Plan, PlanItem
from smartalbum.organize.progress import Fault, Progress

#: Counter key of a finished photo, by mode.
DONE_COUNT = {"copy": "copied", "move": "moved", "link": "linked"}


@dataclass
class Result:
    """What a run (or resume, or rollback) did."""

    journal: Path
    counts: Counter[str] = field(default_factory=Counter)
    failed: list[tuple[PlanItem, str]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # rollback: left alone, and why
    #: Set by :func:`organize.run` when the catalog could not be told (the files are right).
    catalog_warning: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed and not self.conflicts


class Executor:
    """One execution (fresh, resumed, or rolled back) of a journaled plan."""

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
        """The temporary name of ``item``'s copy (beside its destination; carries the run id)."""
        return Path(item.dest).parent / f".smartalbum-{self.id}-{item.index}.part"

    def drop_temp(self, item: PlanItem) -> None:
        drop(self.temp_for(item))

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
            fsync_dir(d.parent)

    def adopt(self, item: PlanItem, st: ItemState, dest: Path, how: str) -> None:
        """Journal ``dest`` as ``item``'s published file."""
        self.log("copied", item, dest=str(dest), how=how)
        st.state, st.dest, st.how, st.publishing = "copied", str(dest), how, None

    # -- steps -------------------------------------------------------------------------

    def recover(self, item: PlanItem, st: ItemState) -> None:
        """Before redoing an unfinished item: adopt a file we published but did not journal
        (killed between the two), drop our placeholder and temporary files."""
        temp = self.temp_for(item)
        if st.publishing:
            claimed = Path(st.publishing)
            if same_content(claimed, item.sha256, item.size):
                self.adopt(item, st, claimed, "copy")
            elif claimed.is_file() and claimed.stat().st_size == 0:
                claimed.unlink()  # our empty O_EXCL placeholder
            st.publishing = None
        if st.state == "planned" and temp.exists():
            for candidate in existing_candidates(Path(item.dest)):
                if samefile(candidate, temp):
                    self.adopt(item, st, candidate, "copy")
                    break
        if st.state == "planned" and self.mode == "link":
            for candidate in existing_candidates(Path(item.dest)):
                how = our_link(candidate, Path(item.source))
                if how:
                    self.adopt(item, st, candidate, how)
                    break
        drop(temp)

    def publish_copy(self, item: PlanItem, st: ItemState) -> None:
        dest = Path(item.dest)
        self.makedirs(dest.parent)
        temp = self.temp_for(item)
        drop(temp)  # ours: a leftover of an attempt that failed before publishing
        copy_verified(Path(item.source), temp, item.sha256)
        evidence = False  # True while the temp file is the only proof the published file is ours

        def claimed(candidate: Path) -> None:
            self.log("publishing", item, dest=str(candidate))
            st.publishing = str(candidate)

        try:
            for candidate in candidates(dest):
                if os.path.lexists(candidate):
                    if same_content(candidate, item.sha256, item.size):
                        self.skip(item, st, candidate, "identical file already there")
                        return
                    continue
                evidence = True
                if publish_new(temp, candidate, on_claim=lambda c=candidate: claimed(c)) is None:
                    evidence = False
                    continue  # the name was taken meanwhile
                fsync_dir(candidate.parent)
                self.adopt(item, st, candidate, "copy")
                evidence = False
                return
        finally:
            # Interrupted between a link and its journal line, the temporary file (a second
            # name of the published one) is what lets recover() recognise it: keep it then.
            with contextlib.suppress(FileNotFoundError):
                if not evidence or os.stat(temp).st_nlink <= 1:
                    temp.unlink()

    def publish_link(self, item: PlanItem, st: ItemState) -> None:
        dest, source = Path(item.dest), Path(item.source)
        self.makedirs(dest.parent)
        for candidate in candidates(dest):
            if os.path.lexists(candidate):
                if samefile(candidate, source) or same_content(candidate, item.sha256, item.size):
                    self.skip(item, st, candidate, "identical file already there")
                    return
                continue
            try:
                os.link(source, candidate)
                how = "hardlink"
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in NO_LINKS:
                    raise
                try:
                    os.symlink(source.absolute(), candidate)
                except FileExistsError:
                    continue
                how = "symlink"
            fsync_dir(candidate.parent)
            self.adopt(item, st, candidate, how)
            return

    def skip(self, item: PlanItem, st: ItemState, where: Path, reason: str) -> None:
        self.log("skipped", item, dest=str(where), reason=reason)
        st.state, st.dest, st.error = "skipped", str(where), reason

    def verify(self, item: PlanItem, st: ItemState, *, resumed: bool) -> None:
        dest = Path(st.dest or "")
        if st.how == "hardlink":
            good = samefile(dest, Path(item.source)) and same_content(dest, item.sha256, 0)
        elif st.how == "symlink":
            good = our_link(dest, Path(item.source)) == "symlink" and same_content(
                dest, item.sha256, 0
            )
        else:
            good = same_content(dest, item.sha256, item.size)
        if not good:
            # A link only points at the source: removing it loses nothing. A copy made by
            # this very process a moment ago is ours too; but a copy found on resume may
            # have been edited by the user since, so it stays (a new copy will be made).
            if os.path.lexists(dest) and (st.how != "copy" or not resumed):
                dest.unlink()
                fsync_dir(dest.parent)
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
            if recheck and not same_content(source, item.sha256, item.size):
                raise SourceChangedError(
                    errno.EIO, "the source changed since it was copied; it was kept", str(source)
                )
            os.unlink(source)
            fsync_dir(source.parent)
        self.log("source_removed", item)
        st.state = "source_removed"

    def sidecar(self, item: PlanItem, st: ItemState) -> None:
        """Write or merge the XMP sidecar next to the published (or identical) file."""
        if st.xmp_done or not st.dest:
            return
        path = sidecar_path(st.dest)
        if st.xmp is not None and sidecars.digest_of(path) == st.xmp["sha256"]:
            # Killed after writing but before journaling it: done (and not merged twice,
            # which would lose the original in the journal's "previous").
            drop(sidecars.sidecar_temp(path, self.id, item.index))
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
            if sidecars.write_sidecar(path, content, previous, self.id, item.index):
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
                if where is not None and not same_content(where, item.sha256, item.size):
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
                if is_disk_full(exc):
                    self.result.failed.append((item, message))
                    raise DiskFullError(
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
            c[DONE_COUNT[self.mode]] += 1
            if st.how == "symlink":
                c["symlinked"] += 1
        if st.xmp_done and st.xmp:
            c["xmp"] += 1


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
    journal_path, run_id = new_journal_path(plan.into)
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
        return Executor(journal, header, plan.items, {}, [], progress, fault).run(resumed=False)
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
            raise JournalError(f"{journal.path} was rolled back; it cannot be resumed")
        return Executor(journal, header, items, states, dirs, progress, fault).run(resumed=True)
    finally:
        journal.close()
