"""Learning from corrections for the bundle's own heads: retrain on the shipped training
embeddings plus the user's corrections, refuse a worse head, keep and restore versions, and
let a running engine (a web server) pick up the new head. The tiny ONNX bundle of
tests/bundles.py tells red, green and blue photos apart; orange photos are "red" to it."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bundles import ship_training_embeddings
from library.photos import COLOURS, encode, picture
from smartalbum.categories import builtin
from smartalbum.library import db
from smartalbum.library.catalog import add_correction, photo_id_for_path
from smartalbum.library.indexer import Indexer
from smartalbum.model import train_embeddings, user_heads
from smartalbum.model.bundle import Bundle
from smartalbum.model.engine import Engine
from smartalbum.model.fitting import calibrate

ORANGE = (235, 140, 20)


@pytest.fixture(scope="module")
def shipped_bundle(tmp_path_factory: pytest.TempPathFactory, tiny_bundle_dir: Path) -> Path:
    """The tiny bundle with shipped training embeddings (30 photos per colour)."""
    path = Path(shutil.copytree(tiny_bundle_dir, tmp_path_factory.mktemp("builtin") / "tiny"))
    ship_training_embeddings(path)
    return path


@pytest.fixture
def world(tmp_path: Path, shipped_bundle: Path):
    """(engine, user-heads root, factory, photo ids by name) over an indexed catalog of
    red, green, blue and orange photos."""
    bundle = tmp_path / "bundle"
    shutil.copytree(shipped_bundle, bundle)
    root = tmp_path / "heads"
    engine = Engine(Bundle.load(bundle), threads=1, user_heads_dir=root)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(12):
        (photos / f"orange_{i:02d}.jpg").write_bytes(encode(picture(ORANGE, seed=i)))
    for label, colour in COLOURS.items():
        for i in range(4):
            (photos / f"{label}_{i}.jpg").write_bytes(encode(picture(colour, seed=50 + i)))
    _, factory = db.open_catalog(url=f"sqlite:///{tmp_path / 'catalog.sqlite3'}")
    Indexer(factory, engine, workers=1).run([photos])
    with factory() as s:
        ids = {p.stem: photo_id_for_path(s, str(p)) for p in photos.iterdir()}
    return engine, root, factory, ids


def _correct(factory, ids: dict[str, int], names: list[str], label: str) -> None:
    with factory.begin() as s:
        for name in names:
            add_correction(s, ids[name], label, head="colours")


def _label(engine: Engine, image: np.ndarray) -> str:
    return engine.classify([image], "colours")[0].label


def test_corrections_teach_the_builtin_head_and_it_replaces_the_old_one(world) -> None:
    engine, root, factory, ids = world
    orange = picture(ORANGE, seed=999)
    assert _label(engine, orange) == "red"  # what the shipped head thinks
    shipped_version = engine.head("colours").version
    _correct(factory, ids, [f"orange_{i:02d}" for i in range(12)], "green")

    [report] = builtin.retrain_heads(factory, engine, root, ["colours"])
    assert report.accepted, report
    assert report.corrections == 12 and 1 <= report.held_back < 12
    assert report.before["accuracy"] < report.after["accuracy"] == 1.0
    assert _label(engine, orange) == "green"  # a new orange photo, never seen
    for label, colour in COLOURS.items():  # and it did not forget the rest
        assert _label(engine, picture(colour, seed=777)) == label
    assert engine.head("colours").version != shipped_version
    found = user_heads.versions(root, engine.bundle, "colours")
    assert [(v.version, v.active) for v in found] == [(0, False), (1, True)]
    assert found[1].report["after"]["accuracy"] == 1.0


def test_a_worse_head_is_refused_and_kept_as_an_inactive_version(world, monkeypatch) -> None:
    engine, root, factory, ids = world
    _correct(factory, ids, [f"red_{i}" for i in range(4)], "red")  # the head is right
    _correct(factory, ids, [f"blue_{i}" for i in range(4)], "blue")
    active = engine.head("colours")

    original = builtin.refit

    def always_green(template, shipped, x, labels):  # a fit gone wrong
        head = original(template, shipped, x, labels)
        head.biases = [np.array([-50.0, 50.0, -50.0], np.float32)]
        return head

    monkeypatch.setattr(builtin, "refit", always_green)
    [report] = builtin.retrain_heads(factory, engine, root, ["colours"])
    assert not report.accepted and report.reason.startswith("refused")
    assert report.after["accuracy"] < report.before["accuracy"] == 1.0
    assert engine.head("colours") is active  # still serving the old head
    found = user_heads.versions(root, engine.bundle, "colours")
    assert [(v.version, v.active) for v in found] == [(0, True), (1, False)]


def _retrained(world) -> tuple:
    """(shipped head, retrained head, engine) after the 12 oranges are corrected to green."""
    engine, root, factory, ids = world
    shipped = engine.head("colours")
    _correct(factory, ids, [f"orange_{i:02d}" for i in range(12)], "green")
    [report] = builtin.retrain_heads(factory, engine, root, ["colours"])
    assert report.accepted
    return shipped, engine.head("colours"), engine


def test_a_retrained_head_keeps_the_shipped_heads_confidence_scale(world) -> None:
    """Without validation photos in the bundle, the refit gets the temperature at which it
    is as sure of the shipped training photos as the shipped head was (it used to keep
    temperature 1 whatever its fit's scale: the real album6 then sent 72 % of wild val
    photos to review instead of 16 %)."""
    shipped, new, engine = _retrained(world)
    base = train_embeddings.load(engine.bundle)
    before = shipped.probabilities(base.x).max(axis=1).mean()
    after = new.probabilities(base.x).max(axis=1).mean()
    assert abs(after - before) < 0.03
    assert new.threshold == shipped.threshold
    photos = [picture(c, seed=700 + i) for c in COLOURS.values() for i in range(5)]
    was = [p.uncertain for p in shipped.predict(engine.embed(photos))]
    assert sum(p.uncertain for p in new.predict(engine.embed(photos))) <= sum(was) + 1


def test_a_retrained_head_is_calibrated_on_the_shipped_validation_photos(
    world, tmp_path: Path
) -> None:
    """A bundle that ships its photos of no class and its validation photos (the default
    one: wild none photos and wild val) gets its refit fitted and calibrated like the
    build: photos of no class (grey) get the lowest confidences, and temperature and
    threshold are chosen on the validation photos."""
    engine = world[0]
    base = train_embeddings.load(engine.bundle)
    grey = [picture((128, 128, 128), seed=900 + i) for i in range(30)]
    val = [picture(c, seed=800 + i) for c in COLOURS.values() for i in range(10)]
    train_embeddings.write(
        engine.bundle.path,
        np.concatenate([base.x, engine.embed(grey[:20])]),
        [*base.labels, *["none"] * 20],
        sources=["shipped"] * len(base.x) + ["greys"] * 20,
        validation=(
            engine.embed(val + grey[20:]),
            [lab for lab in COLOURS for _ in range(10)] + ["none"] * 10,
        ),
    )
    shipped, new, engine = _retrained(world)
    # calibrated there by the build's rule, not copied from the shipped head
    stored = train_embeddings.load(engine.bundle)
    expected = calibrate(copy.deepcopy(new), stored.val_x, stored.val_labels)
    assert (new.temperature, new.threshold) == (expected.temperature, expected.threshold)
    assert new.temperature != shipped.temperature
    grey_preds = new.predict(engine.embed(grey[:20]))  # fitted towards a flat answer
    assert max(p.confidence for p in grey_preds) < min(
        p.confidence for p in new.predict(engine.embed(val))
    )
    colour_preds = new.predict(engine.embed([picture(c, seed=850) for c in COLOURS.values()]))
    assert [p.label for p in colour_preds] == list(COLOURS)
    assert not any(p.uncertain for p in colour_preds)


def test_too_few_corrections_or_no_training_embeddings_skip_with_a_reason(world) -> None:
    engine, root, factory, ids = world
    _correct(factory, ids, ["orange_00", "orange_01"], "green")
    [report] = builtin.retrain_heads(factory, engine, root, ["colours"])
    assert not report.accepted and "at least 4" in report.reason
    _correct(factory, ids, ["orange_02", "orange_03", "orange_04"], "green")
    (Path(engine.bundle.path) / train_embeddings.FILE).unlink()
    [report] = builtin.retrain_heads(factory, engine, root, ["colours"])
    assert not report.accepted and "no training embeddings" in report.reason
    assert user_heads.versions(root, engine.bundle, "colours")[-1].version == 0


def test_a_running_engine_picks_up_and_restores_versions(world, monkeypatch) -> None:
    engine, root, factory, ids = world
    server = Engine(Bundle.load(engine.bundle.path), threads=1, user_heads_dir=root)
    monkeypatch.setattr(user_heads.UserHeads, "CHECK_EVERY_S", 0.0)
    shipped = server.head("colours").version
    old_key = server.version
    _correct(factory, ids, [f"orange_{i:02d}" for i in range(12)], "green")
    [report] = builtin.retrain_heads(factory, engine, root, ["colours"])
    assert report.accepted
    assert server.head("colours").version == engine.head("colours").version != shipped
    assert server.version != old_key  # cached results of the old head are not reused
    user_heads.activate_version(root, engine.bundle, "colours", 0)  # restore the shipped one
    assert server.head("colours").version == shipped
    with pytest.raises(KeyError):
        user_heads.activate_version(root, engine.bundle, "colours", 7)


def test_classify_alone_picks_up_a_version_activated_elsewhere(world, monkeypatch) -> None:
    """A server that only ever calls classify() (POST /api/v1/classify without a catalog)
    must serve the version a worker activated: classify used to read bundle.head() directly
    and skip the refresh that head() does."""
    engine, root, factory, ids = world
    server = Engine(Bundle.load(engine.bundle.path), threads=1, user_heads_dir=root)
    monkeypatch.setattr(user_heads.UserHeads, "CHECK_EVERY_S", 0.0)
    orange = picture(ORANGE, seed=999)
    assert server.classify([orange], "colours")[0].label == "red"
    _correct(factory, ids, [f"orange_{i:02d}" for i in range(12)], "green")
    [report] = builtin.retrain_heads(factory, engine, root, ["colours"])  # "another machine"
    assert report.accepted
    assert server.classify([orange], "colours")[0].label == "green"


def test_engine_from_settings_is_one_engine_per_process_and_settings(tmp_path: Path) -> None:
    from smartalbum.config import Settings

    a = Settings(data_dir=tmp_path / "a")
    assert Engine.from_settings(a) is Engine.from_settings(Settings(data_dir=tmp_path / "a"))
    other = Engine.from_settings(Settings(data_dir=tmp_path / "b"))
    assert other is not Engine.from_settings(a)
    assert other.user_heads is not None and other.user_heads.store.root == tmp_path / "b" / "heads"


def test_retrain_job_retrains_the_builtin_head_and_re_sorts_the_catalog(
    world, tmp_path: Path, monkeypatch
) -> None:
    from smartalbum.config import Settings
    from smartalbum.jobs import store
    from smartalbum.jobs.kinds import JobContext, run
    from smartalbum.library.catalog import iter_photos

    engine, root, factory, ids = world
    monkeypatch.setattr(JobContext, "engine", lambda self: engine)
    _correct(factory, ids, [f"orange_{i:02d}" for i in range(12)], "green")
    settings = Settings(data_dir=tmp_path)  # user heads under tmp_path/heads == root
    job_id = store.create_job(factory, "categories", {"action": "retrain", "names": []})
    run(settings, factory, job_id)
    job = store.get_job(factory, job_id)
    assert job.status == "done", job.message
    [report] = [r for r in job.result["reports"] if r.get("head") == "colours"]
    assert report["accepted"]
    with factory() as s:
        labels = {p.id: p.label for p in iter_photos(s, head="colours")}
    # uncorrected orange photos are re-sorted by the new head's stored predictions; the
    # corrected ones show their corrections either way
    assert all(labels[ids[f"orange_{i:02d}"]] == "green" for i in range(12))
    assert labels[ids["red_0"]] == "red" and labels[ids["blue_0"]] == "blue"


def test_head_cli_lists_and_restores_versions(world, tmp_path: Path, monkeypatch) -> None:
    from smartalbum.cli import main

    engine, root, factory, ids = world
    _correct(factory, ids, [f"orange_{i:02d}" for i in range(12)], "green")
    builtin.retrain_heads(factory, engine, root, ["colours"])
    env = {
        "SMARTALBUM_DATA_DIR": str(tmp_path),
        "SMARTALBUM_MODEL__BUNDLE": str(engine.bundle.path),
        "SMARTALBUM_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.sqlite3'}",
    }
    from smartalbum.config import get_settings

    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(main, ["head", "versions", "colours", "--format", "json"], env=env)
        assert out.exit_code == 0, out.output
        assert [(v["version"], v["active"]) for v in json.loads(out.output)] == [
            (0, False),
            (1, True),
        ]
        out = CliRunner().invoke(main, ["head", "restore", "colours", "0"], env=env)
        assert out.exit_code == 0, out.output
        assert "version 0 is active" in out.output
        bad = CliRunner().invoke(main, ["head", "restore", "colours", "9"], env=env)
        assert bad.exit_code == 2 and "no version 9" in bad.output
    finally:
        get_settings.cache_clear()
