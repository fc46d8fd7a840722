"""State that must be the same on every machine lives in the catalog (issue 14): head
versions and the active one, and the bytes of uploaded examples. Both backends; two
engines over one catalog stand for two machines with separate data dirs."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from library.catalogs import BACKENDS, temporary_catalog
from library.photos import COLOURS, encode, picture
from smartalbum.library import db, head_store, stored_files
from smartalbum.library.head_store import CatalogHeadStore, catalog_head_store
from smartalbum.model import user_heads
from smartalbum.model.bundle import Bundle
from smartalbum.model.engine import Engine
from smartalbum.model.heads import Head


@pytest.fixture(params=BACKENDS)
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    with temporary_catalog(request.param, tmp_path) as url:
        yield db.open_catalog(url=url)[1]


def _warmer(head: Head) -> Head:
    """Another version of ``head`` (same labels, other calibration)."""
    return Head.from_dict({**head.to_dict(), "temperature": head.temperature * 3})


def test_a_version_activated_on_one_machine_is_served_by_another(
    factory, tiny_bundle_dir: Path, monkeypatch
) -> None:
    monkeypatch.setattr(user_heads.UserHeads, "CHECK_EVERY_S", 0.0)
    worker = Engine(Bundle.load(tiny_bundle_dir), threads=1, heads=CatalogHeadStore(factory))
    web = Engine(Bundle.load(tiny_bundle_dir), threads=1, heads=CatalogHeadStore(factory))
    shipped = web.head("colours").version
    new = _warmer(worker.head("colours"))
    number = user_heads.save(worker.user_heads.store, worker.bundle, new, {"n": 1}, activate=True)
    assert number == 1
    assert web.head("colours").version == new.version != shipped
    found = user_heads.versions(web.user_heads.store, web.bundle, "colours")
    assert [(v.version, v.active) for v in found] == [(0, False), (1, True)]
    assert found[1].head_version == new.version and found[1].report == {"n": 1}
    user_heads.activate_version(web.user_heads.store, web.bundle, "colours", 0)
    assert worker.head("colours").version == shipped  # restored everywhere
    with pytest.raises(KeyError):
        user_heads.activate_version(web.user_heads.store, web.bundle, "colours", 7)
    second = user_heads.save(web.user_heads.store, web.bundle, new, {}, activate=False)
    assert second == 2 and worker.head("colours").version == shipped


def test_versions_on_disk_are_imported_once_with_a_log_line(
    factory, tiny_bundle_dir: Path, tmp_path: Path, caplog
) -> None:
    bundle = Bundle.load(tiny_bundle_dir)
    data_dir = tmp_path / "old-data"
    files = user_heads.FileHeadStore(user_heads.directory(data_dir))
    v1, v2 = _warmer(bundle.head("colours")), _warmer(_warmer(bundle.head("colours")))
    user_heads.save(files, bundle, v1, {}, activate=False)
    user_heads.save(files, bundle, v2, {"kept": True}, activate=True)
    example = encode(picture(COLOURS["red"], seed=3))
    sha = hashlib.sha256(example).hexdigest()
    stored_files.examples_dir(data_dir).mkdir(parents=True)
    (stored_files.examples_dir(data_dir) / f"{sha}.jpg").write_bytes(example)
    head_store._imported.clear()
    with caplog.at_level(logging.WARNING, logger="smartalbum.library.head_store"):
        store = catalog_head_store(factory, data_dir)
    assert "imported 2 head version(s) and 1 example file(s)" in caplog.text
    found = user_heads.versions(store, bundle, "colours")
    assert [(v.version, v.head_version, v.active) for v in found[1:]] == [
        (1, v1.version, False),
        (2, v2.version, True),
    ]
    assert stored_files.get(factory, sha) == example
    # another start (or another machine with the same files): nothing new
    head_store._imported.clear()
    assert head_store.import_file_versions(store, user_heads.directory(data_dir)) == 0
    assert stored_files.import_folder(factory, stored_files.examples_dir(data_dir)) == 0
    assert len(user_heads.versions(store, bundle, "colours")) == 3


def test_stored_files_serve_a_node_that_never_saw_the_upload(factory, tmp_path: Path) -> None:
    data = encode(picture(COLOURS["blue"], seed=8))
    sha = stored_files.put(factory, data, "my car.jpg")
    assert stored_files.put(factory, data, "again.jpg") == sha  # stored once
    web_node_path = tmp_path / "web-data" / "examples" / f"{sha}.jpg"  # not on this node
    worker_data = tmp_path / "worker-data"
    assert stored_files.path_bytes(factory, web_node_path) == data
    copy = stored_files.local_copy(factory, web_node_path, worker_data)
    assert copy == stored_files.examples_dir(worker_data) / f"{sha}.jpg"
    assert copy.read_bytes() == data
    assert stored_files.local_copy(factory, tmp_path / "nothing.jpg", worker_data) is None
