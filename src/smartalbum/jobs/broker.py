"""The embedded broker's files: repaired on start, checked for readiness.

kombu's filesystem transport keeps an exchange table per exchange in ``control/`` and one
file per message in ``queue/``. A full disk can leave either truncated (``index`` filled the
data dir and left ``control/smartalbum.exchange`` at 0 bytes); kombu then fails on every
publish and at worker start, for good. Both are plain JSON, so a damaged one is recognised
by not parsing: an exchange table is removed (kombu recreates it when the queue is declared
again) and a message is moved to ``damaged/`` (its job's catalog rows still say what is
unfinished; the worker sweep re-sends stalled work). Only files older than a few seconds are
touched, so a file another process is writing right now is left alone.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: A damaged file must be at least this old to be repaired (a writer holds it briefly).
SETTLED_S = 2.0
#: Less free space than this on the broker's disk counts as full (readiness).
MIN_FREE_BYTES = 1 << 20


def _parses(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def _settled(path: Path, now: float) -> bool:
    try:
        return now - path.stat().st_mtime >= SETTLED_S
    except OSError:
        return False


def repair(base: Path) -> list[str]:
    """Remove damaged exchange tables and set damaged messages aside under ``base``;
    returns what was done (one line each, also logged). Never raises for a file it cannot
    fix: a broker it cannot repair is reported by :func:`problem`."""
    done: list[str] = []
    now = time.time()
    for table in sorted((base / "control").glob("*.exchange")):
        if _settled(table, now) and not _parses(table):
            try:
                table.unlink()
                done.append(f"removed damaged exchange table {table.name}")
            except OSError as exc:
                log.warning("cannot remove damaged %s: %s", table, exc)
    damaged = base / "damaged"
    for message in sorted((base / "queue").glob("*.msg")):
        if _settled(message, now) and not _parses(message):
            try:
                damaged.mkdir(exist_ok=True)
                os.replace(message, damaged / message.name)
                done.append(f"set damaged message {message.name} aside")
            except OSError as exc:
                log.warning("cannot move damaged %s: %s", message, exc)
    for line in done:
        log.warning("embedded broker: %s", line)
    return done


def problem(base: Path) -> str | None:
    """Why the embedded broker under ``base`` cannot take messages now (None: it can):
    a folder that is not writable, a damaged exchange table, or a full disk."""
    queue, control = base / "queue", base / "control"
    for folder in (queue, control):
        if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
            return f"the broker folder {folder} is not writable"
    for table in control.glob("*.exchange"):
        if _settled(table, time.time()) and not _parses(table):
            return f"the exchange table {table.name} is damaged (restart to repair)"
    existing = base
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        free = shutil.disk_usage(existing).free
    except OSError as exc:
        return f"cannot read the broker's disk: {exc}"
    if free < MIN_FREE_BYTES:
        return f"the disk of {base} is full ({free} bytes free)"
    return None
