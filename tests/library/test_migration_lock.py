"""Two processes opening a new SQLite catalog at the same moment (the web app and its
embedded worker do) must both succeed: schema upgrades are serialised by a lock file."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

pytestmark = pytest.mark.services  # processes of their own


def _open(url: str, start, results) -> None:  # noqa: ANN001 - multiprocessing primitives
    from smartalbum.library import db

    start.wait()
    try:
        engine, _ = db.open_catalog(url=url)
        results.put(db.current_revision(engine))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        results.put(f"error: {type(exc).__name__}: {exc}")


def test_concurrent_first_opens_of_a_sqlite_catalog_all_succeed(tmp_path: Path) -> None:
    from smartalbum.library import db

    ctx = mp.get_context("spawn")
    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'race{attempt}.sqlite3'}"
        start, results = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(url, start, results)) for _ in range(3)]
        for p in procs:
            p.start()
        start.set()
        got = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert got == [db.HEAD_REVISION] * 3, got
        assert (tmp_path / f"race{attempt}.sqlite3.migrate.lock").exists()
