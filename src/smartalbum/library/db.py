"""Connecting to the catalog: URL choice, SQLite tuning, sessions and schema upgrades.

SQLite (the default, ``<data_dir>/catalog.sqlite3``) runs in WAL mode: readers (the web
gallery) never block the indexer's writes, and a commit is one append to the log, so a
process killed with SIGKILL loses at most its open transaction. ``synchronous=NORMAL`` is
the documented WAL setting that stays consistent on a crash of the process (only a power
cut can lose the last commits, never corrupt the file). PostgreSQL is used when
``SMARTALBUM_DATABASE_URL`` says so; any ``postgresql://`` / ``postgres://`` URL is
normalised to the psycopg (v3) driver.

Every entry point that touches the catalog calls :func:`open_catalog`, which upgrades the
schema once per process (Alembic, programmatically: no alembic.ini needed).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.config import Settings, get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
CATALOG_FILENAME = "catalog.sqlite3"
#: The newest migration shipped (tests/library/test_schema.py checks it is Alembic's head).
#: A catalog already there skips loading Alembic at all: every CLI start saves ~0.3 s.
HEAD_REVISION = "0007"

#: PostgreSQL advisory lock held while migrating (any constant unique to this app).
MIGRATION_LOCK = 0x5A1B_0001
_engines: dict[str, Engine] = {}
_upgraded: set[str] = set()
_lock = threading.Lock()


def safe_url(url: str) -> str:
    """``url`` with its password hidden: what messages and logs may show."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def default_url(settings: Settings | None = None) -> str:
    """The configured catalog URL: ``settings.database_url`` or SQLite under ``data_dir``."""
    settings = settings or get_settings()
    configured = getattr(settings, "database_url", None)
    if configured:
        return normalize_url(configured)
    return f"sqlite:///{Path(settings.data_dir).expanduser() / CATALOG_FILENAME}"


def normalize_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` -> ``postgresql+psycopg://``; others unchanged."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_catalog_engine(url: str, **kwargs: Any) -> Engine:
    """A new engine for ``url`` (SQLite: WAL, foreign keys, busy timeout; dir created)."""
    url = normalize_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
    finally:
        cur.close()


def get_engine(settings: Settings | None = None, *, url: str | None = None) -> Engine:
    """The process-wide engine for the configured (or given) catalog URL."""
    key = normalize_url(url or default_url(settings))
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = create_catalog_engine(key)
        return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (records are read after commits)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> Any:
    """An Alembic Config pointing at the packaged migrations (no alembic.ini)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        # ConfigParser interpolation: a password with % must be doubled.
        cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url_or_engine: str | Engine | None = None, revision: str = "head") -> None:
    """Bring the catalog's schema to ``revision`` (idempotent; safe to call on every start)."""
    from alembic import command

    engine = (
        url_or_engine
        if isinstance(url_or_engine, Engine)
        else get_engine(url=url_or_engine or default_url())
    )
    cfg = alembic_config()
    with _sqlite_migration_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Web and workers starting together on a new database (docker compose) would
            # otherwise race to create the same tables; the loser waits here, then finds
            # the schema current. Released at commit. (SQLite: a lock file, see below.)
            from sqlalchemy import text

            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


@contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise schema upgrades of one SQLite file across processes.

    pysqlite runs DDL outside a transaction, so the web app and its embedded worker
    creating a new catalog at the same moment could both try ``CREATE TABLE`` ("table
    photos already exists"). An exclusive ``flock`` on ``<catalog>.migrate.lock`` makes
    the second wait and then find the schema current. No-op for other databases and
    where ``fcntl`` does not exist.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        fcntl = None  # type: ignore[assignment]
    if not database or database == ":memory:" or fcntl is None:
        yield
        return
    lock_path = Path(database).expanduser().with_name(Path(database).name + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _at_head(engine: Engine) -> bool:
    """True when the catalog's recorded revision is :data:`HEAD_REVISION` (cheap check)."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:  # no table yet: a new catalog
        return False
    return [r[0] for r in rows] == [HEAD_REVISION]


def current_revision(engine: Engine) -> str | None:
    """The catalog's Alembic revision (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this version of Smart Album."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def open_catalog(
    settings: Settings | None = None, *, url: str | None = None
) -> tuple[Engine, sessionmaker[Session]]:
    """Engine + session factory for the catalog, its schema upgraded once per process."""
    engine = get_engine(settings, url=url)
    key = engine.url.render_as_string(hide_password=False)
    with _lock:
        needs = key not in _upgraded
    if needs:
        if not _at_head(engine):
            upgrade(engine)
        with _lock:
            _upgraded.add(key)
    return engine, session_factory(engine)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_ignore(
    session: Session, model: type, values: dict[str, Any], conflict: list[str]
) -> bool:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING, on SQLite and PostgreSQL alike.

    Returns True when a row was inserted. This is what makes indexing idempotent: two
    runs (or a run repeated after a kill) can never create the same photo, embedding or
    prediction twice, and never fail on the unique constraints either.
    """
    table = getattr(model, "__table__", model)
    stmt = _dialect_insert(session, table).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=conflict)
    # RETURNING rather than rowcount: drivers disagree on rowcount for a skipped row.
    key = list(table.primary_key.columns)
    return session.execute(stmt.returning(*key)).first() is not None


def insert_ignore_many(
    session: Session, model: Any, rows: list[dict[str, Any]], conflict: list[str]
) -> None:
    """:func:`insert_ignore` for many rows in one executemany (same keys in every row).

    Core statement on the table (not the ORM entity): it is compiled once per batch, which
    matters when indexing tens of thousands of photos.
    """
    if not rows:
        return
    table = getattr(model, "__table__", model)
    session.execute(
        _dialect_insert(session, table).on_conflict_do_nothing(index_elements=conflict), rows
    )


def _dialect_insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported backends
        raise NotImplementedError(f"unsupported database backend {dialect!r}")
    return insert(table)


def dispose_all() -> None:
    """Close every cached engine (tests; a forked worker must not share connections)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _upgraded.clear()
