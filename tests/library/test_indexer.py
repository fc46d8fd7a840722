"""Indexing a generated library on SQLite and PostgreSQL: first run, incremental re-runs,
moves, renames, deletions, edits, errors, and new model versions."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from sqlalchemy import func, select

from library.photos import COLOURS, encode, picture
from smartalbum.library import catalog as cat
from smartalbum.library import indexer as indexer_mod
from smartalbum.library.schema import (
    Embedding,
    File,
    IndexErrorRecord,
    IndexRun,
    Photo,
    Prediction,
)


def _count(factory, model_cls) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(model_cls)))


def _photo_of(factory, path) -> int | None:
    with factory() as s:
        return cat.photo_id_for_path(s, str(path))


def _file_row(factory, path):
    with factory() as s:
        return s.scalars(select(File).where(File.path == str(path))).one_or_none()


@pytest.fixture
def count_reads(monkeypatch):
    """Counts every file the indexer opens."""
    reads: list[str] = []
    original = indexer_mod._read_file

    def spy(path):
        reads.append(path)
        return original(path)

    monkeypatch.setattr(indexer_mod, "_read_file", spy)
    return reads


def test_first_run_stores_every_photo_completely(catalog, model, make_indexer, library):
    _, factory = catalog
    summary = make_indexer().run([library.root])

    n_files = len(library.photos)
    assert summary.scanned == n_files + len(library.bad)
    assert summary.new == n_files
    assert summary.errors == len(library.bad)
    assert summary.embedded == library.distinct  # duplicates are embedded once at most...
    assert model.embedded <= n_files  # (...unless both copies were in flight together)
    assert _count(factory, Photo) == library.distinct
    assert _count(factory, File) == n_files
    assert _count(factory, Embedding) == library.distinct
    heads = list(model.bundle.heads)
    assert _count(factory, Prediction) == library.distinct * len(heads)

    key = cat.model_key(model, "colours")
    with factory() as s:
        records = list(
            cat.iter_photos(
                s,
                backbone_version=key.backbone_version,
                head="colours",
                head_version=key.head_version,
            )
        )
    assert len(records) == library.distinct
    by_path = {p: r for r in records for p in r.paths}
    for rel, label in library.photos.items():
        record = by_path[str(library.path(rel))]
        assert record.label == label, rel  # the tiny model really tells the colours apart
        assert record.embedding is not None and record.embedding.shape == (48,)
        assert record.blur is not None and record.exposure_verdict in ("ok", "under", "over")
        assert record.phash is not None and 0 <= record.phash < 2**64
    for a, b in library.duplicates:
        assert by_path[str(library.path(a))] is by_path[str(library.path(b))]
        assert len(by_path[str(library.path(a))].paths) == 2

    arezzo = by_path[str(library.path("trip/arezzo.jpg"))]
    assert (arezzo.city, arezzo.region, arezzo.country) == ("Arezzo", "Tuscany", "IT")
    assert arezzo.taken_at.isoformat() == "2024-05-24T09:15:00"
    assert arezzo.taken_at_source == "exif" and arezzo.tz_offset_min == 120
    assert arezzo.camera == "NIKON COOLPIX P6000"
    assert arezzo.altitude == pytest.approx(296.5)
    plain = by_path[str(library.path("2020/red/img_00.jpg"))]
    assert plain.taken_at_source == "file" and plain.gps is None and plain.country is None

    with factory() as s:
        errors = {e.path: e.code for e in cat.list_index_errors(s)}
        runs = list(s.scalars(select(IndexRun)))
    assert errors == {
        str(library.path("notes.jpg")): "not_an_image",
        str(library.path("trip/truncated.jpg")): "corrupt_image",
    }
    assert len(runs) == 1 and runs[0].status == "done" and runs[0].counts["new"] == n_files


def test_second_run_reads_nothing_and_runs_no_model(
    catalog, model, make_indexer, library, count_reads
):
    _, factory = catalog
    make_indexer().run([library.root])
    rows_before = [_count(factory, t) for t in (Photo, File, Embedding, Prediction)]
    model.reset()
    count_reads.clear()

    summary = make_indexer().run([library.root])

    assert count_reads == []  # not a single byte of an unchanged file (good or bad) was read
    assert model.embedded == 0 and model.head_rows == 0
    assert summary.unchanged == len(library.photos)
    assert summary.known_errors == len(library.bad)
    assert (summary.new, summary.changed, summary.moved, summary.missing, summary.errors) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert [_count(factory, t) for t in (Photo, File, Embedding, Prediction)] == rows_before


def test_moves_renames_deletions_and_edits(catalog, model, make_indexer, library, count_reads):
    _, factory = catalog
    make_indexer().run([library.root])
    root = library.root
    moved_src, moved_dst = root / "2020/blue/img_02.jpg", root / "elsewhere/deep/img_02.jpg"
    renamed_src, renamed_dst = root / "2021/red/img_03.jpg", root / "2021/red/holiday.jpg"
    deleted = root / "2020/green/img_04.jpg"
    edited = root / "2021/blue/img_05.jpg"
    ids = {p: _photo_of(factory, p) for p in (moved_src, renamed_src, deleted, edited)}
    deleted_bytes = deleted.read_bytes()
    file_ids = {p: _file_row(factory, p).id for p in (moved_src, renamed_src)}

    moved_dst.parent.mkdir(parents=True)
    shutil.move(moved_src, moved_dst)
    renamed_src.rename(renamed_dst)
    deleted.unlink()
    edited.write_bytes(encode(picture(COLOURS["red"], seed=999)))  # now a different, red photo
    model.reset()
    count_reads.clear()

    summary = make_indexer().run([root])

    assert (summary.moved, summary.changed, summary.missing, summary.new) == (2, 1, 1, 0)
    # Only the three paths the catalog did not know were read; only the edit was decoded.
    assert sorted(count_reads) == sorted(str(p) for p in (moved_dst, renamed_dst, edited))
    assert model.embedded == 1

    for src, dst in ((moved_src, moved_dst), (renamed_src, renamed_dst)):
        row = _file_row(factory, dst)
        assert row.photo_id == ids[src] and row.id == file_ids[src]  # same photo, same row
        assert row.status == "present" and _file_row(factory, src) is None

    gone = _file_row(factory, deleted)
    assert gone.status == "missing" and gone.photo_id == ids[deleted]
    with factory() as s:
        kept = cat.get_photo(s, ids[deleted], head="colours")
        assert kept is not None and kept.paths == [] and kept.missing_paths == [str(deleted)]
        assert kept.prediction is not None  # the photo's data is kept
        visible = {r.id for r in cat.iter_photos(s)}
    assert ids[deleted] not in visible

    new_id = _photo_of(factory, edited)
    assert new_id != ids[edited]
    with factory() as s:
        edited_record = cat.get_photo(s, new_id, head="colours")
        old_record = cat.get_photo(s, ids[edited], head="colours")
    assert edited_record.label == "red" and edited_record.paths == [str(edited)]
    assert old_record is not None and old_record.label == "blue"  # old photo kept, unlinked

    # The deleted file comes back (restored from a backup): present again, same photo,
    # recognised by its hash without running the model.
    deleted.write_bytes(deleted_bytes)
    model.reset()
    summary = make_indexer().run([root])
    row = _file_row(factory, deleted)
    assert row.status == "present" and row.photo_id == ids[deleted]
    assert summary.missing == 0 and summary.changed == 1 and model.embedded == 0


def test_a_move_out_of_an_indexed_root_into_another(catalog, make_indexer, library, tmp_path):
    _, factory = catalog
    make_indexer().run([library.root])
    src = library.path("2020/red/img_06.jpg")
    photo_id = _photo_of(factory, src)
    other = tmp_path / "other_root"
    other.mkdir()
    shutil.move(src, other / "img_06.jpg")

    summary = make_indexer().run([other])  # the old root is not scanned in this run

    assert summary.moved == 1 and summary.new == 0
    assert _photo_of(factory, other / "img_06.jpg") == photo_id
    assert _file_row(factory, src) is None


def test_bad_files_are_recorded_retried_when_changed_and_forgotten_when_deleted(
    catalog, make_indexer, library
):
    _, factory = catalog
    make_indexer().run([library.root])
    truncated = library.path("trip/truncated.jpg")
    truncated.write_bytes(encode(picture(COLOURS["red"], seed=7)))  # repaired
    library.path("notes.jpg").unlink()

    summary = make_indexer().run([library.root])

    assert summary.new == 1 and summary.errors == 0 and summary.known_errors == 0
    assert _count(factory, IndexErrorRecord) == 0

    good = library.path("2021/green/img_01.jpg")
    photo_id = _photo_of(factory, good)
    good.write_bytes(b"\xff\xd8\xff\xe0 damaged")  # a catalogued file gets corrupted
    summary = make_indexer().run([library.root])
    assert summary.errors == 1
    row = _file_row(factory, good)
    assert row.status == "missing" and row.photo_id == photo_id
    with factory() as s:
        assert [e.path for e in cat.list_index_errors(s)] == [str(good)]


def test_a_new_head_version_is_predicted_from_stored_embeddings(
    catalog, model, make_indexer, library, count_reads
):
    _, factory = catalog
    make_indexer().run([library.root])
    old_key = cat.model_key(model, "colours")
    head = model.bundle.heads["colours"]
    head.threshold = 0.9  # a re-calibrated head: new version, same backbone
    new_key = cat.model_key(model, "colours")
    assert new_key.head_version != old_key.head_version
    model.reset()
    count_reads.clear()

    summary = make_indexer(heads=["colours"]).run([library.root])

    assert count_reads == [] and model.embedded == 0
    assert model.head_rows == library.distinct and summary.predicted == library.distinct
    with factory() as s:
        new = list(cat.iter_photos(s, head="colours", head_version=new_key.head_version))
        old = list(cat.iter_photos(s, head="colours", head_version=old_key.head_version))
    assert all(r.prediction is not None for r in new + old)
    assert len(new) == len(old) == library.distinct


def test_a_new_backbone_version_re_embeds_unchanged_files(
    catalog, model, make_indexer, library, monkeypatch
):
    _, factory = catalog
    make_indexer().run([library.root])
    # a new backbone file: its version is what Bundle.backbone_version caches
    monkeypatch.setitem(model.bundle.__dict__, "backbone_version", "b" * 16)
    model.reset()

    summary = make_indexer().run([library.root])

    assert summary.refreshed == len(library.photos) and summary.unchanged == 0
    assert model.embedded >= library.distinct
    with factory() as s:
        versions = s.execute(
            select(Embedding.backbone_version, func.count()).group_by(Embedding.backbone_version)
        ).all()
    assert sorted(n for _, n in versions) == [library.distinct, library.distinct]
    model.reset()
    assert make_indexer().run([library.root]).unchanged == len(library.photos)
    assert model.embedded == 0


def test_indexing_single_files_and_overlapping_roots(catalog, make_indexer, library):
    _, factory = catalog
    one = library.path("2020/red/img_00.jpg")
    summary = make_indexer().run([one])
    assert summary.new == 1 and _count(factory, File) == 1
    summary = make_indexer().run([library.root, library.root / "2020"])
    assert summary.new == len(library.photos) - 1 and summary.unchanged == 1
    assert _count(factory, File) == len(library.photos)
    with pytest.raises(FileNotFoundError):
        make_indexer().run([library.root / "nope"])


def test_hidden_and_non_photo_files_are_ignored(catalog, make_indexer, tmp_path):
    _, factory = catalog
    root = tmp_path / "lib"
    (root / ".thumbnails").mkdir(parents=True)
    (root / ".thumbnails" / "t.jpg").write_bytes(encode(picture(COLOURS["red"], 1)))
    (root / "clip.mov").write_bytes(b"\x00" * 100)
    (root / "a.JPG").write_bytes(encode(picture(COLOURS["red"], 2)))
    summary = make_indexer().run([root])
    assert summary.scanned == 1 and summary.new == 1
    assert os.path.basename(_file_row(factory, root / "a.JPG").path) == "a.JPG"


def test_embeddings_are_stored_exactly(catalog, model, make_indexer, library):
    _, factory = catalog
    make_indexer().run([library.root])
    key = cat.model_key(model)
    with factory() as s:
        record = next(cat.iter_photos(s, backbone_version=key.backbone_version))
    from smartalbum.imaging import load_photo

    side = indexer_mod.Indexer(factory, model).side
    image = load_photo(record.path, max_side=side).image
    expected = model.embed([image])[0]
    np.testing.assert_allclose(record.embedding, expected, rtol=1e-5, atol=1e-6)


def test_an_interrupted_run_keeps_whole_batches_and_resumes(catalog, model, make_indexer, library):
    _, factory = catalog

    def stop_after_two_batches(n, summary):
        if summary.new + summary.errors >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_indexer(batch_size=4).run([library.root], on_progress=stop_after_two_batches)
    with factory() as s:
        run = s.scalars(select(IndexRun)).one()
        assert run.status == "interrupted" and run.finished_at is not None
    done = _count(factory, File) + _count(factory, IndexErrorRecord)
    assert done == 8  # exactly the two committed batches
    model.reset()

    summary = make_indexer().run([library.root])

    assert summary.unchanged + summary.known_errors == 8
    assert _count(factory, File) == len(library.photos)
    assert _count(factory, Photo) == _count(factory, Embedding) == library.distinct


def test_a_file_indexed_by_name_in_a_hidden_folder_is_not_marked_missing(
    catalog, make_indexer, tmp_path
):
    _, factory = catalog
    root = tmp_path / "lib"
    (root / ".hidden").mkdir(parents=True)
    secret = root / ".hidden" / "s.jpg"
    secret.write_bytes(encode(picture(COLOURS["red"], 1)))
    make_indexer().run([secret])
    summary = make_indexer().run([root])  # the walk skips hidden folders
    assert summary.missing == 0 and _file_row(factory, secret).status == "present"


# --------------------------------------------------------------------------- after-index hooks


@pytest.fixture
def events(monkeypatch) -> list:
    """The events the after-index hooks receive (a recording hook, registered last)."""
    from smartalbum.library import hooks

    seen: list = []

    def record(event) -> None:
        seen.append(event)
        event.note(f"recorded {len(event.photo_ids)}")

    monkeypatch.setitem(hooks.HOOKS, "tests.record", record)
    return seen


def test_after_index_hooks_get_the_photos_the_run_embedded(
    catalog, model, make_indexer, library, events
):
    _, factory = catalog
    summary = make_indexer().run([library.root])

    (event,) = events
    assert event.final and event.job_id is None and event.scope is None
    assert event.factory is factory and event.engine is model
    assert event.roots == (str(library.root.resolve()),)
    assert len(event.photo_ids) == len(set(event.photo_ids)) == library.distinct
    key = cat.model_key(model)
    assert event.backbone_version == key.backbone_version
    with factory() as s:
        stored = cat.load_embeddings(s, list(event.photo_ids), key.backbone_version)
    assert event.embeddings.shape == (library.distinct, model.embedding_dim)
    for row, photo_id in zip(event.embeddings, event.photo_ids, strict=True):
        np.testing.assert_array_equal(row, stored[photo_id])  # the vectors that were stored
    assert summary.notes[-1] == f"recorded {library.distinct}"
    assert "notes" not in summary.to_dict()  # the JSON summary keeps its shape

    make_indexer().run([library.root])  # nothing new: the hooks still run, with no photos
    assert events[1].final and events[1].photo_ids == () and events[1].embeddings is None


def test_a_large_run_hands_the_hooks_ids_without_vectors(
    catalog, make_indexer, library, events, monkeypatch
):
    monkeypatch.setattr(indexer_mod, "KEEP_EMBEDDINGS", 3)
    make_indexer().run([library.root])
    assert len(events[0].photo_ids) == library.distinct and events[0].embeddings is None


def test_a_job_chunk_is_scoped_and_records_no_run(catalog, model, make_indexer, library, events):
    """What an index job's chunk does (jobs.tasks.index_chunk): ``scope`` limits the
    catalog-wide steps to the chunk's photos, ``job_id`` replaces the index_runs row."""
    _, factory = catalog
    make_indexer().run([library.root])
    chunk = [str(library.path(rel)) for rel in library.good[:3]]
    model.bundle.heads["colours"].threshold = 0.9  # a new head version, for every photo
    model.reset()

    summary = make_indexer(heads=["colours"], scope=chunk, job_id="j1").run(chunk)

    assert summary.unchanged == 3 and model.embedded == 0
    with factory() as s:
        wanted = {cat.photo_id_for_path(s, p) for p in chunk}
    assert summary.predicted == model.head_rows == len(wanted)  # not the whole catalog
    assert _count(factory, IndexRun) == 1  # the first, unscoped run only
    event = events[-1]
    assert not event.final and event.job_id == "j1" and event.scope == tuple(chunk)
