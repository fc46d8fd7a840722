"""``smartalbum db upgrade``, ``index`` and ``errors`` through the real click commands."""

from __future__ import annotations

import json

from click.testing import CliRunner

from smartalbum.cli import main
from smartalbum.library import db


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_db_upgrade(catalog_url):
    result = _run("db", "upgrade", "--database-url", catalog_url)
    assert result.exit_code == 0, result.output
    assert f"at revision {db.head_revision()}" in result.output
    assert _run("db", "upgrade", "--database-url", catalog_url).exit_code == 0  # repeatable


def test_index_then_errors(catalog_url, library, tiny_bundle_dir):
    common = ["--bundle", str(tiny_bundle_dir), "--database-url", catalog_url]
    first = _run("index", str(library.root), "--json", "--threads", "1", *common)
    assert first.exit_code == 0, first.output  # bad files do not fail the run...
    summary = json.loads(first.output.strip().splitlines()[-1])
    assert summary["new"] == len(library.photos) and summary["errors"] == len(library.bad)

    strict = _run("index", str(library.root), "--strict", *common)
    assert strict.exit_code == 1  # ...unless asked to
    assert f"{len(library.photos)} unchanged" in strict.output
    assert "see `smartalbum errors`" in strict.output

    table = _run("errors", "--database-url", catalog_url)
    assert table.exit_code == 0
    assert "notes.jpg" in table.output and "not_an_image" in table.output
    assert "truncated.jpg" in table.output and "corrupt_image" in table.output
    assert f"{len(library.bad)} file(s) could not be indexed" in table.output

    lines = _run("errors", "--format", "json", "--database-url", catalog_url).output.splitlines()
    rows = [json.loads(line) for line in lines]
    assert {r["code"] for r in rows} == {"not_an_image", "corrupt_image"}
    assert all(r["path"].startswith(str(library.root)) for r in rows)


def test_one_head_only(catalog, catalog_url, library, tiny_bundle_dir):
    from sqlalchemy import select

    from smartalbum.library.schema import Prediction

    result = _run(
        "index",
        str(library.root),
        "--head",
        "strict",
        "--bundle",
        str(tiny_bundle_dir),
        "--database-url",
        catalog_url,
    )
    assert result.exit_code == 0, result.output
    _, factory = catalog
    with factory() as s:
        assert list(s.scalars(select(Prediction.head).distinct())) == ["strict"]


def test_usage_errors(tmp_path, tiny_bundle_dir):
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    missing = _run("index", str(tmp_path / "nope"), "--database-url", url)
    assert missing.exit_code == 2 and "no such file or directory" in missing.output
    (tmp_path / "lib").mkdir()
    head = _run(
        "index",
        str(tmp_path / "lib"),
        "--head",
        "nope",
        "--bundle",
        str(tiny_bundle_dir),
        "--database-url",
        url,
    )
    assert head.exit_code == 2 and "no head 'nope'" in head.output
    down = _run("errors", "--database-url", "postgresql://nobody@127.0.0.1:1/none")
    assert down.exit_code == 2 and "cannot open the catalog" in down.output


def test_no_errors_message(tmp_path):
    result = _run("errors", "--database-url", f"sqlite:///{tmp_path / 'c.sqlite3'}")
    assert result.exit_code == 0 and "no indexing errors" in result.output
