"""Real catalog databases for tests: a SQLite file, or a fresh PostgreSQL database.

PostgreSQL is expected on 127.0.0.1:5432 (``.ci/run`` starts it); override the admin URL
with ``SMARTALBUM_TEST_POSTGRES_URL``. Every test gets its own uniquely named database,
dropped afterwards, so parallel runs never see each other's rows. When PostgreSQL cannot
be reached the PostgreSQL variant is skipped with the reason, except under ``CI=true``,
where it fails: CI must test both backends.

Importable from other test packages (``from library.catalogs import temporary_catalog``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import pytest

#: The catalog backends to parametrise over; PostgreSQL is a service (``make test-fast`` skips it).
BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.services))
PG_ADMIN_URL = os.environ.get(
    "SMARTALBUM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@lru_cache(maxsize=1)
def postgres_problem() -> str | None:
    """None when the PostgreSQL admin URL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable here"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"
    return None


def require_postgres() -> None:
    """Skip (locally) or fail (CI=true) when PostgreSQL is not usable."""
    problem = postgres_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{problem} (CI=true: the PostgreSQL tests must run)")
    pytest.skip(problem)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database; yields its SQLAlchemy URL and drops it afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    require_postgres()
    name = f"smartalbum_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        from smartalbum.library import db

        db.dispose_all()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def temporary_catalog(backend: str, directory: Path) -> Iterator[str]:
    """An empty catalog URL for ``backend`` ("sqlite" under ``directory``, or "postgresql")."""
    if backend == "postgresql":
        with postgres_database() as url:
            yield url
        return
    if backend != "sqlite":
        raise ValueError(f"unknown backend {backend!r}")
    from smartalbum.library import db

    try:
        yield f"sqlite:///{directory / f'catalog-{uuid.uuid4().hex[:8]}.sqlite3'}"
    finally:
        db.dispose_all()
