"""Undoing a run, finished or not: :func:`rollback`.

Moved files go back to their original paths, files and folders the run created are
removed, sidecars are restored — and nothing the run did not create is ever deleted: a
file is removed only while it is still exactly what the run put there (the journal says
where, the SHA-256 or the link says it is unchanged). Anything changed since (a
destination edited, a source path taken by another file) is left alone and reported.
"""

from __future__ import annotations

import base64
import errno
import os
from collections.abc import Iterable
from pathlib import Path

from smartalbum.organize import fileops, sidecars
from smartalbum.organize.errors import SourceChangedError
from smartalbum.organize.executor import Executor, Result
from smartalbum.organize.journal import ItemState, Journal, replay
from smartalbum.organize.plan import PlanItem
from smartalbum.organize.progress import Progress


def rollback(journal_path: str | os.PathLike[str], *, progress: Progress | None = None) -> Result:
    """Undo a run (finished or not): restore moved files, remove what it created.

    Anything that changed since (a destination edited, a source path taken by another
    file) is left alone and reported in ``Result.conflicts``. After a clean rollback the
    journal itself is removed, with the folders the run created.
    """
    journal, header, records = Journal.open(Path(journal_path))
    items, states, dirs, _ = replay(records)
    run = Executor(journal, header, items, states, dirs, progress, None)
    result = run.result
    try:
        run.log("rollback_start", None)
        for item in reversed(items):
            st = states[item.index]
            if st.rolled_back:
                continue
            try:
                undo_item(run, item, st)
            except OSError as exc:
                result.conflicts.append(f"{item.dest}: {exc}")
                continue
            run.log("rolled_back", item)
            st.rolled_back = True
        leftover = remove_empty_dirs(sorted(run.dirs, key=len, reverse=True))
        run.log("rollback_done", None)
    finally:
        journal.close()
    if result.ok and not leftover:
        journal.path.unlink()
        fileops.fsync_dir(journal.path.parent)
        remove_empty_dirs(reversed(header.get("created_dirs", [])))
    return result


def remove_empty_dirs(dirs: Iterable[str]) -> list[str]:
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


def undo_item(run: Executor, item: PlanItem, st: ItemState) -> None:
    """Undo one photo's steps, newest first; conflicts go into ``run.result``."""
    result = run.result
    # 1. Sidecars: back to what they were, unless someone changed them since.
    if st.xmp:
        path = Path(st.xmp["path"])
        fileops.drop(sidecars.sidecar_temp(path, run.id, item.index))
        current = sidecars.digest_of(path)
        ours = current == st.xmp["sha256"]
        if ours and st.xmp["created"]:
            path.unlink()
        elif ours:
            sidecars.restore_sidecar(path, base64.b64decode(st.xmp["previous"]))
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
                if not fileops.same_content(source, item.sha256, item.size):
                    result.conflicts.append(
                        f"{source}: another file now has this name; the photo stays at {dest}"
                    )
                    return
            else:
                restore_moved(run, item, dest, source)
                result.counts["restored"] += 1
        if st.how == "copy":
            mine = fileops.same_content(dest, item.sha256, item.size) and not dest.is_symlink()
        else:
            mine = fileops.our_link(dest, source) == st.how
        if mine:
            dest.unlink()
            fileops.fsync_dir(dest.parent)
            result.counts["removed"] += 1
        elif os.path.lexists(dest):
            result.conflicts.append(f"{dest}: changed since it was organised; left as it is")
    elif st.state == "skipped":
        result.counts["untouched"] += 1


def restore_moved(run: Executor, item: PlanItem, dest: Path, source: Path) -> None:
    """Put a moved photo back at its original path (never replacing anything there)."""
    if not source.parent.exists():
        source.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(dest, source)  # same filesystem: instant, atomic, no-replace
    except OSError as exc:
        if exc.errno not in fileops.NO_LINKS:  # FileExistsError among them: a conflict
            raise
        temp = source.with_name(f".smartalbum-{run.id}-{item.index}.restore")
        fileops.drop(temp)
        fileops.copy_verified(dest, temp, item.sha256)
        try:
            if fileops.publish_new(temp, source) is None:
                raise FileExistsError(errno.EEXIST, "a file appeared at this name", str(source))
        finally:
            fileops.drop(temp)
    fileops.fsync_dir(source.parent)
    if not fileops.same_content(source, item.sha256, item.size):
        raise SourceChangedError(errno.EIO, "restored file does not verify", str(source))
