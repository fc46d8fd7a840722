"""``smartalbum tags``, ``tag add/remove`` and ``search`` against a real catalog file."""

from __future__ import annotations

import json

from click.testing import CliRunner

from smartalbum.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_tags_of_a_photo_by_id_and_by_path(tagged_catalog, tmp_path):
    url, _, ids = tagged_catalog
    out = _run("tags", str(ids["cat.jpg"]), "--database-url", url)
    assert out.exit_code == 0 and out.output.startswith(f"photo {ids['cat.jpg']}: cat 1.00")
    by_path = _run("tags", str(tmp_path / "photos" / "beach.jpg"), "--format", "json",
                   "--database-url", url)  # fmt: skip
    data = json.loads(by_path.output)
    assert data["photo_id"] == ids["beach.jpg"] and data["removed"] == []
    assert {"tag": "beach", "confidence": 1.0, "source": "auto"} in data["tags"]


def test_tag_add_and_remove(tagged_catalog):
    url, _, ids = tagged_catalog
    pid = str(ids["cat.jpg"])
    out = _run("tag", "add", pid, "Tiger", "my sofa", "--database-url", url)
    assert out.exit_code == 0 and "tiger* 1.00" in out.output and "my sofa*" in out.output
    out = _run("tag", "remove", pid, "cat", "unicorn", "--database-url", url)
    assert out.exit_code == 0 and "not a tag of photo" in out.output
    shown = json.loads(_run("tags", pid, "--format", "json", "--database-url", url).output)
    assert shown["removed"] == ["cat"]
    assert [t["tag"] for t in shown["tags"]][:2] == ["tiger", "my sofa"]


def test_usage_errors_exit_2(tagged_catalog):
    url, _, ids = tagged_catalog
    assert _run("tags", "--database-url", url).exit_code == 2
    assert _run("tags", "424242", "--database-url", url).exit_code == 2
    assert _run("tag", "add", str(ids["cat.jpg"]), "  ", "--database-url", url).exit_code == 2
    assert _run("search", "  ", "--database-url", url).exit_code == 2


def test_search_table_and_json(tagged_catalog, tmp_path):
    url, _, ids = tagged_catalog
    table = _run("search", "Florence 2023", "--database-url", url)
    assert table.exit_code == 0
    assert "pizza.jpg" in table.output and 'place "Florence"' in table.output
    assert "1 photos match" in table.output
    data = json.loads(_run("search", "beach", "--format", "json", "--database-url", url).output)
    first = data["results"][0]
    assert first["path"] == str(tmp_path / "photos" / "beach.jpg")
    assert first["photo_id"] == ids["beach.jpg"] and first["why"] == ['tag "beach"']
    assert set(data) >= {"query", "total", "unmatched", "dates", "semantic", "results"}
    nothing = _run("search", "zxqv", "--database-url", url)
    assert nothing.exit_code == 0 and "no photos found" in nothing.output
