"""``smartalbum duplicates|review|trips|organize`` through click, on SQLite and PostgreSQL.

``duplicates`` runs end to end: generated shots are indexed by the real indexer (tiny
model), so pHash, embeddings and paths come from the catalog as in real use.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from library.test_duplicates import SAME_PICTURE, variants
from smartalbum.cli import main
from smartalbum.library import db
from smartalbum.library.schema import File, Photo, Prediction, to_signed64
from smartalbum.library.xmp import read_sidecar


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def add_photo(factory, path: Path | None, **values) -> int:
    """A photo row (+ a present file row for ``path``, + a prediction when ``label``)."""
    label = values.pop("label", None)
    uncertain = values.pop("uncertain", False)
    data = path.read_bytes() if path is not None else repr(values).encode()
    sha = hashlib.sha256(data).hexdigest()
    defaults = {"sha256": sha, "size": len(data), "format": "JPEG", "width": 64, "height": 48}
    with db.session_scope(factory) as s:
        photo = Photo(**{**defaults, **values})
        s.add(photo)
        s.flush()
        if path is not None:
            st = path.stat()
            s.add(File(photo_id=photo.id, path=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns))
        if label:
            s.add(
                Prediction(
                    photo_id=photo.id,
                    head="colours",
                    head_version="v1",
                    backbone_version="b1",
                    label=label,
                    confidence=0.4 if uncertain else 0.9,
                    uncertain=uncertain,
                    probabilities={label: 0.9},
                )
            )
        return photo.id


# --------------------------------------------------------------------------- duplicates


def test_duplicates_end_to_end(catalog_url, catalog, make_indexer, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    names = {}
    for seed in range(2):
        for name, data in variants(seed).items():
            path = root / f"s{seed}" / f"{name}.{'png' if name == 'copy_png' else 'jpg'}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            names[str(path)] = (seed, name)
    copy = root / "backup" / "original.jpg"
    copy.parent.mkdir()
    copy.write_bytes((root / "s0" / "original.jpg").read_bytes())
    names[str(copy)] = (0, "original")
    make_indexer().run([root])

    result = _run("duplicates", "--format", "json", "--database-url", catalog_url)
    assert result.exit_code == 0, result.output
    groups = _json_lines(result.output)
    exact = [g for g in groups if g["kind"] == "exact"]
    near = [g for g in groups if g["kind"] == "near"]
    # the original's identical copy joins its near group: each photo in one group
    assert exact == []
    assert len(near) == 2
    seed0 = next(g for g in near if str(copy) in {m["path"] for m in g["members"]})
    assert str(root / "s0" / "original.jpg") in {m["path"] for m in seed0["members"]}
    for group in near:
        members = {names[m["path"]] for m in group["members"]}
        assert len({seed for seed, _ in members}) == 1
        assert {name for _, name in members} == SAME_PICTURE
        assert group["min_cosine"] is not None  # the catalog's embeddings were compared
        assert group["keep"]["width"] == 640
    table = _run("duplicates", "--exact-only", "--database-url", catalog_url)
    assert "KEEP" in table.output and "1 photos with identical copies" in table.output
    assert "0 near-duplicate groups" in table.output and "nothing was deleted" in table.output


# --------------------------------------------------------------------------- review


def test_review(catalog_url, catalog) -> None:
    _, factory = catalog
    sure = add_photo(factory, None, label="red", blur=500.0, exposure_verdict="ok")
    unsure = add_photo(factory, None, label="blue", uncertain=True, blur=500.0)
    blurry = add_photo(factory, None, label="red", blur=3.0, exposure_verdict="over")
    with db.session_scope(factory) as s:  # photos need a present file to be listed
        for pid in (sure, unsure, blurry):
            s.add(File(photo_id=pid, path=f"/lib/{pid}.jpg", size=1, mtime_ns=1))

    rows = _json_lines(
        _run(
            "review", "--format", "json", "--head", "colours", "--database-url", catalog_url
        ).output
    )
    assert {r["photo_id"]: r["reasons"] for r in rows} == {
        unsure: ["uncertain"],
        blurry: ["blurry", "exposure"],
    }
    only = _run("review", "--reason", "blurry", "--database-url", catalog_url)
    assert only.exit_code == 0 and f"/lib/{blurry}.jpg" in only.output
    assert f"/lib/{unsure}.jpg" not in only.output and "1 photos to review" in only.output


# --------------------------------------------------------------------------- trips


def test_trips(catalog_url, catalog) -> None:
    _, factory = catalog
    with db.session_scope(factory) as s:
        for k in range(40):  # home: Milan, many days
            s.add(
                Photo(
                    sha256=f"{k:064x}",
                    size=1,
                    format="JPEG",
                    width=1,
                    height=1,
                    taken_at=datetime(2024, 1, 1) + timedelta(days=3 * k),
                    latitude=45.46,
                    longitude=9.19,
                    city="Milan",
                    country="IT",
                )
            )
        for k in range(6):
            city = "Arezzo" if k < 2 else "Florence"
            lat, lon = (43.46, 11.88) if k < 2 else (43.77, 11.25)
            s.add(
                Photo(
                    sha256=f"{100 + k:064x}",
                    size=1,
                    format="JPEG",
                    width=1,
                    height=1,
                    taken_at=datetime(2024, 5, 3, 9) + timedelta(hours=5 * k),
                    latitude=lat,
                    longitude=lon,
                    city=city,
                    country="IT",
                    camera_make="Canon",
                    camera_model="Canon EOS 80D",
                )
            )
        s.flush()
        for photo in s.scalars(select(Photo)):
            s.add(File(photo_id=photo.id, path=f"/lib/{photo.id}.jpg", size=1, mtime_ns=1))

    learned = _run("trips", "--format", "json", "--database-url", catalog_url)
    assert learned.exit_code == 0, learned.output
    [trip] = _json_lines(learned.output)
    assert trip["title"] == "Arezzo and Florence, May 2024"
    assert trip["photos"] == 6 and trip["home"]["source"] == "learned"
    table = _run(
        "trips",
        "--home",
        "43.77,11.25",
        "--gap-hours",
        "100",
        "--radius-km",
        "80",
        "--database-url",
        catalog_url,
    )
    assert "Milan, January–April 2024" in table.output  # seen from Florence, Milan is away
    assert "set by you" in table.output
    bad = CliRunner().invoke(main, ["trips", "--home", "north", "--database-url", catalog_url])
    assert bad.exit_code == 2


# --------------------------------------------------------------------------- organize


@pytest.fixture
def organised_library(catalog, tmp_path: Path):
    _, factory = catalog
    src = tmp_path / "src"
    src.mkdir()
    ids = {}
    for k, (label, uncertain) in enumerate(
        [("red", False), ("green", False), ("blue", True), ("red", False)]
    ):
        path = src / f"IMG_{k}.jpg"
        path.write_bytes(b"\xff\xd8" + bytes([k]) * 500)
        ids[path] = add_photo(
            factory,
            path,
            label=label,
            uncertain=uncertain,
            taken_at=datetime(2024, 5, 3 + k, 9),
            phash=to_signed64(k),
        )
    return factory, src, ids


def test_organize_dry_run_then_move_with_xmp_then_rollback(
    catalog_url, organised_library, tmp_path: Path
) -> None:
    factory, src, ids = organised_library
    into = tmp_path / "sorted"
    common = ["--head", "colours", "--database-url", catalog_url]

    dry = _run("organize", "--into", str(into), "--mode", "move", "--dry-run", *common)
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing was changed" in dry.output
    assert f"-> {into / 'red' / '2024' / '05' / 'IMG_0.jpg'}" in dry.output
    assert f"-> {into / 'review' / 'blue' / '2024' / '05' / 'IMG_2.jpg'}" in dry.output
    assert not into.exists() and len(list(src.iterdir())) == 4

    moved = _run("organize", "--into", str(into), "--mode", "move", "--xmp", *common)
    assert moved.exit_code == 0, moved.output
    assert "done: moved 4, xmp 4" in moved.output
    assert not list(src.iterdir())
    dest = into / "red" / "2024" / "05" / "IMG_0.jpg"
    assert read_sidecar(Path(f"{dest}.xmp").read_bytes())["subject"] == ["red"]
    with factory() as s:  # the catalog follows the files
        rows = {path: status for path, status in s.execute(select(File.path, File.status))}
    assert rows[str(dest)] == "present" and rows[str(src / "IMG_0.jpg")] == "missing"

    journal = moved.output.split("--rollback ")[-1].strip()
    undone = _run("organize", "--rollback", journal, "--database-url", catalog_url)
    assert undone.exit_code == 0, undone.output
    assert sorted(p.name for p in src.iterdir()) == [f"IMG_{k}.jpg" for k in range(4)]
    assert not into.exists()
    with factory() as s:
        rows = {path: status for path, status in s.execute(select(File.path, File.status))}
    assert rows[str(dest)] == "missing" and rows[str(src / "IMG_0.jpg")] == "present"


def test_organize_usage_errors(catalog_url, organised_library, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["organize", "--database-url", catalog_url]
    assert runner.invoke(main, base).exit_code == 2  # no --into
    bad_layout = runner.invoke(main, [*base, "--into", str(tmp_path / "x"), "--layout", "{nope}"])
    assert bad_layout.exit_code == 2 and "unknown placeholder" in bad_layout.output
    journal = tmp_path / "j.jsonl"
    journal.write_text("{}\n")
    both = runner.invoke(main, [*base, "--resume", str(journal), "--into", str(tmp_path)])
    assert both.exit_code == 2
    wrong = runner.invoke(main, [*base, "--resume", str(journal)])
    assert wrong.exit_code == 2 and "not a Smart Album organize journal" in wrong.output
