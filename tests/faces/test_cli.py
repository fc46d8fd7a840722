"""``smartalbum faces`` and ``smartalbum people`` end to end over a SQLite catalog."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from smartalbum.cli import main
from smartalbum.library import db


@pytest.fixture
def cli(tmp_path, faces, photo_maker, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    factory = db.open_catalog(url=url)[1]
    for k, variant in enumerate(faces.variants(faces.astronaut)[:3]):
        photo_maker(factory, variant, f"a{k}", datetime(2020, 1, 1 + k))
    for k, variant in enumerate(faces.variants(faces.others[0])[:2]):
        photo_maker(factory, variant, f"b{k}", datetime(2020, 2, 1 + k))
    photo_maker(factory, faces.group(faces.astronaut, faces.others[0]), "ab")
    monkeypatch.setenv("SMARTALBUM_FACES__UPSAMPLE", "0")
    from smartalbum.config import get_settings

    get_settings.cache_clear()

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(
            main,
            [*args, "--database-url", url]
            if args[0] == "faces"
            else ["people", "--database-url", url, *args[1:]],
        )
        assert result.exit_code == code, result.output
        return result.output

    yield run
    get_settings.cache_clear()
    db.dispose_all()


@pytest.mark.slow
def test_scan_list_correct_and_query(cli, tmp_path) -> None:
    assert "--all" in cli("faces", "scan", code=2)  # PATHS or --all required
    out = cli("faces", "scan", "--all", "--json")
    assert json.loads(out.strip().splitlines()[-1])["faces"] == 3 + 2 + 2
    people = [json.loads(line) for line in cli("people", "--format", "json").splitlines()]
    assert sorted(p["faces"] for p in people) == [3, 4]
    face = people[0]["faces_list"][0]
    assert face["path"].endswith(".jpg") and set(face["box"]) == {"x", "y", "w", "h"}
    assert face["score"] > 0
    big = max(people, key=lambda p: p["faces"])
    small = min(people, key=lambda p: p["faces"])
    assert "is Eileen" in cli("people", "name", str(big["id"]), "Eileen")
    cli("people", "name", str(small["id"]), "Bob")
    table = cli("people")
    assert "Eileen" in table and "Bob" in table and "box" in table
    both = cli("people", "photos", "eileen", "Bob").split()
    assert len(both) == 1 and both[0].endswith("ab.jpg")
    assert len(cli("people", "photos", "Eileen").split()) == 4
    # Move one of Eileen's faces to a new person; reject another; set a birth date.
    faces = [f["id"] for f in big["faces_list"]]
    assert "to person" in cli("people", "move", str(faces[0]))
    assert "1 face(s) rejected" in cli("people", "reject", "Eileen", str(faces[1]))
    assert "taken off" in cli("people", "born", "Bob", "2020-02-02")
    cli("people", "born", "Bob", "yesterday", code=2)
    cli("people", "name", "nobody", "X", code=2)
    cli("people", "move", "999999", code=2)
    assert "assigned" in cli("faces", "recluster")
    after = {p["name"]: p for p in map(json.loads, cli("people", "--format", "json").splitlines())}
    assert after["Eileen"]["faces"] == 2
    assert after["Bob"]["faces"] == 2  # the 2020-02-01 photo is before Bob was born
    assert "deleted" in cli("faces", "purge", "--yes")
    assert "no people yet" in cli("people")
