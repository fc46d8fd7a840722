"""Issue 14, operable: a node older than the database stops with one line and exit 3 (never
Alembic's traceback); ``smartalbum db upgrade`` is the upgrade step and ``db check`` says
where the catalog stands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from smartalbum.config import Settings
from smartalbum.library import db

NEWER = "9999_from_the_future"


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SMARTALBUM_")}
    environ.update(SMARTALBUM_DATA_DIR=str(tmp_path / "data"), **env)
    return subprocess.run(
        [sys.executable, "-m", "smartalbum.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _catalog_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / db.CATALOG_FILENAME}"


def _stamp(url: str, revision: str) -> None:
    """As if a newer Smart Album had migrated the catalog."""
    engine = db.create_catalog_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


@pytest.fixture
def newer_catalog(tmp_path: Path) -> str:
    url = _catalog_url(tmp_path)
    db.open_catalog(url=url)
    db.dispose_all()
    _stamp(url, NEWER)
    yield url
    db.dispose_all()


@pytest.mark.parametrize(
    "argv", [["jobs"], ["errors"], ["db", "upgrade"], ["worker"], ["serve", "--port", "0"]]
)
def test_a_catalog_newer_than_the_code_is_one_line_and_exit_3(
    tmp_path: Path, newer_catalog: str, tiny_bundle_dir: Path, argv: list[str]
) -> None:
    result = _cli(tmp_path, *argv, SMARTALBUM_MODEL__BUNDLE=str(tiny_bundle_dir))
    assert result.returncode == db.EXIT_SCHEMA_NEWER == 3, result.stderr
    assert "Traceback" not in result.stderr and "Can't locate revision" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, result.stderr
    assert "alembic" not in error_lines[0].lower()
    assert NEWER in error_lines[0] and "newer version" in error_lines[0]


def test_db_check_says_newer_older_and_current(tmp_path: Path, newer_catalog: str) -> None:
    newer = _cli(tmp_path, "db", "check")
    assert newer.returncode == 3 and NEWER in newer.stderr
    _stamp(newer_catalog, db.HEAD_REVISION)
    current = _cli(tmp_path, "db", "check")
    assert current.returncode == 0 and "up to date" in current.stdout


def test_the_web_app_refuses_to_start_on_a_newer_catalog(newer_catalog: str, app_settings):
    from smartalbum.web import create_app
    from smartalbum.web.server import check_catalog_schema

    settings = app_settings().model_copy(update={"database_url": newer_catalog})
    with pytest.raises(db.SchemaNewerError):
        check_catalog_schema(settings)
    with pytest.raises(db.SchemaNewerError):
        create_app(settings)


def test_without_auto_upgrade_an_older_catalog_waits_for_db_upgrade(tmp_path: Path) -> None:
    url = _catalog_url(tmp_path)
    db.upgrade(url, "0004")  # the catalog of the previous version
    db.dispose_all()
    settings = Settings(data_dir=tmp_path / "data", database_auto_upgrade=False)
    with pytest.raises(db.SchemaOlderError, match="smartalbum db upgrade"):
        db.open_catalog(settings, url=url)
    db.dispose_all()
    refused = _cli(tmp_path, "jobs", SMARTALBUM_DATABASE_AUTO_UPGRADE="false")
    assert refused.returncode == 3 and "Traceback" not in refused.stderr
    assert "stop the workers, run `smartalbum db upgrade`" in refused.stderr
    upgraded = _cli(tmp_path, "db", "upgrade", SMARTALBUM_DATABASE_AUTO_UPGRADE="false")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded from 0004 to {db.HEAD_REVISION}" in upgraded.stdout
    again = _cli(tmp_path, "db", "upgrade")
    assert "up to date" in again.stdout
    ok = _cli(tmp_path, "jobs", SMARTALBUM_DATABASE_AUTO_UPGRADE="false")
    assert ok.returncode == 0 and "no jobs" in ok.stdout
