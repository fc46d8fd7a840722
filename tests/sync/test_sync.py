"""``smartalbum sync`` against a real rclone WebDAV server on loopback (see conftest)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from library.photos import COLOURS, encode, picture
from smartalbum.cli import main
from smartalbum.config import get_settings
from smartalbum.library import db
from smartalbum.library.schema import File, Photo
from smartalbum.sync import (
    BadRemoteError,
    Rclone,
    RcloneMissingError,
    RemoteError,
    mirror_for,
    parse_remote,
)


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _put(root: Path, rel: str, colour: str, seed: int) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(picture(COLOURS[colour], seed)))
    return path


def _catalog_counts(data: Path) -> tuple[int, int]:
    _, factory = db.open_catalog(url=f"sqlite:///{data / 'catalog.sqlite3'}")
    with factory() as s:
        return s.scalar(select(func.count(Photo.id))), s.scalar(select(func.count(File.id)))


# --------------------------------------------------------------------------- parsing


def test_parse_remote_and_mirror_paths(tmp_path: Path) -> None:
    r = parse_remote("gphotos:media/by-year/2024")
    assert (r.name, r.path) == ("gphotos", "media/by-year/2024")
    assert mirror_for(r, tmp_path) == tmp_path / "gphotos" / "media" / "by-year" / "2024"
    assert str(parse_remote("s3:")) == "s3:"
    fly = parse_remote(":webdav,url='http://127.0.0.1:8080':dir/sub")
    assert fly.path == "dir/sub" and fly.name.startswith(":webdav")
    assert mirror_for(fly, tmp_path).parts[-2:] == ("dir", "sub")
    for bad in ("just-a-folder", "/abs/path", "a/b:c"):
        with pytest.raises(BadRemoteError):
            parse_remote(bad)
    with pytest.raises(BadRemoteError):
        mirror_for(parse_remote("x:a/../../etc"), tmp_path)


def test_missing_rclone_is_a_typed_error(sync_env, monkeypatch) -> None:
    with pytest.raises(RcloneMissingError):
        Rclone("/nonexistent/rclone")
    monkeypatch.setenv("SMARTALBUM_SYNC__RCLONE", "/nonexistent/rclone")
    get_settings.cache_clear()
    result = _run("sync", "cloud:photos")
    assert result.exit_code == 3
    assert "rclone was not found" in result.output


def test_bad_remote_is_usage_error(sync_env) -> None:
    result = _run("sync", "not-a-remote")
    assert result.exit_code == 2
    assert "is not REMOTE:PATH" in result.output


# --------------------------------------------------------------------------- against the server


@pytest.mark.services
def test_sync_pulls_indexes_and_is_incremental(cloud, sync_env, tmp_path) -> None:
    _put(cloud.root, "2024/a.jpg", "red", 1)
    _put(cloud.root, "2024/trip/b.jpg", "green", 2)
    _put(cloud.root, "2024/trip/c.JPG", "blue", 3)
    (cloud.root / "2024" / "notes.txt").write_text("not a photo")
    (cloud.root / "2024" / ".hidden.jpg").write_bytes(encode(picture(COLOURS["red"], 9)))

    first = _run("sync", "cloud:2024")
    assert first.exit_code == 0, first.output
    mirror = tmp_path / "mirrors" / "cloud" / "2024"
    got = sorted(p.relative_to(mirror).as_posix() for p in mirror.rglob("*") if p.is_file())
    assert got == ["a.jpg", "trip/b.jpg", "trip/c.JPG"]  # photos only, no hidden files
    assert "copied 3 new photos" in first.output
    assert "3 new" in first.output  # the index summary
    assert _catalog_counts(sync_env) == (3, 3)

    second = _run("sync", "cloud:2024")
    assert second.exit_code == 0, second.output
    assert "copied 0 new photos" in second.output
    assert "3 unchanged" in second.output

    # a new photo on the remote arrives; one deleted there stays here (never delete)
    _put(cloud.root, "2024/d.png", "red", 4)
    (cloud.root / "2024" / "a.jpg").unlink()
    third = _run("sync", "cloud:2024")
    assert third.exit_code == 0, third.output
    assert "copied 1 new photos" in third.output
    assert (mirror / "a.jpg").is_file() and (mirror / "d.png").is_file()
    assert _catalog_counts(sync_env) == (4, 4)


@pytest.mark.services
def test_dry_run_downloads_nothing(cloud, sync_env, tmp_path) -> None:
    _put(cloud.root, "p/x.jpg", "red", 1)
    result = _run("sync", "cloud:p", "--dry-run", "--mirror", str(tmp_path / "m"))
    assert result.exit_code == 0, result.output
    assert "would copy 1 new photos" in result.output and "x.jpg" in result.output
    assert not (tmp_path / "m").exists()
    assert not (sync_env / "catalog.sqlite3").exists()


@pytest.mark.services
def test_remote_failures_exit_4(cloud, sync_env) -> None:
    unknown = _run("sync", "nosuchremote:photos")
    assert unknown.exit_code == 4
    assert "didn't find section in config file" in unknown.output
    missing = _run("sync", "cloud:does/not/exist")
    assert missing.exit_code == 4
    assert "failed" in missing.output


@pytest.mark.services
def test_pull_reports_progress_and_files(cloud, tmp_path, rclone_bin) -> None:
    for i in range(3):
        _put(cloud.root, f"album/{i}.jpg", "blue", i)
    seen = []
    rclone = Rclone(rclone_bin, config=cloud.config, transfers=2)
    result = rclone.pull("cloud:album", tmp_path / "m", on_progress=seen.append)
    assert sorted(result.copied) == ["0.jpg", "1.jpg", "2.jpg"]
    assert result.bytes == sum(p.stat().st_size for p in (cloud.root / "album").iterdir())
    assert seen and seen[-1].transfers == 3 and seen[-1].bytes == result.bytes
    again = rclone.pull("cloud:album", tmp_path / "m")
    assert again.copied == [] and again.replaced == []
    # a photo changed on the remote replaces the mirror's copy (it is a mirror, not the
    # user's own folder)
    _put(cloud.root, "album/0.jpg", "red", 99)
    changed = rclone.pull("cloud:album", tmp_path / "m")
    assert changed.replaced == ["0.jpg"]
    with pytest.raises(RemoteError) as info:
        rclone.pull("cloud:nothing-here", tmp_path / "n")
    assert info.value.returncode != 0
    assert not (tmp_path / "n").exists()


@pytest.mark.services
def test_push_organised_copy(cloud, sync_env, tmp_path) -> None:
    _put(cloud.root, "inbox/r1.jpg", "red", 1)
    _put(cloud.root, "inbox/g1.jpg", "green", 2)
    _put(cloud.root, "inbox/b1.jpg", "blue", 3)
    result = _run(
        "sync", "cloud:inbox", "--push-organised", "cloud:organised", "--layout", "{label}"
    )
    assert result.exit_code == 0, result.output
    assert "pushed 3 files to cloud:organised" in result.output
    pushed = sorted(
        p.relative_to(cloud.root / "organised").as_posix()
        for p in (cloud.root / "organised").rglob("*")
        if p.is_file()
    )
    assert pushed == ["blue/b1.jpg", "green/g1.jpg", "red/r1.jpg"]
    assert (cloud.root / "organised/red/r1.jpg").read_bytes() == (
        cloud.root / "inbox/r1.jpg"
    ).read_bytes()
    # the mirror is untouched: same files, not moved
    mirror = tmp_path / "mirrors" / "cloud" / "inbox"
    assert sorted(os.listdir(mirror)) == ["b1.jpg", "g1.jpg", "r1.jpg"]

    again = _run(
        "sync", "cloud:inbox", "--push-organised", "cloud:organised", "--layout", "{label}"
    )
    assert again.exit_code == 0, again.output
    assert "0 new, 3 already there" in again.output
    assert "pushed 0 files" in again.output


@pytest.mark.services
def test_background_submits_an_index_job(cloud, sync_env) -> None:
    from smartalbum.jobs import store

    _put(cloud.root, "bg/x.jpg", "green", 5)
    result = _run("sync", "cloud:bg", "--background")
    assert result.exit_code == 0, result.output
    job_id = result.output.strip().splitlines()[-1]
    _, factory = db.open_catalog(url=f"sqlite:///{sync_env / 'catalog.sqlite3'}")
    job = store.get_job(factory, job_id)
    assert job is not None and job.kind == "index"
    mirror = get_settings().sync.mirror_root / "cloud" / "bg"
    assert str(mirror) in str(job.params)
