"""The parallel decode -> batched inference pipeline."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from smartalbum.model.bundle import Bundle
from smartalbum.model.engine import Engine
from smartalbum.model.pipeline import classify_files, working_side


def test_results_in_input_order_across_batches_with_errors(tmp_path: Path, tiny_bundle_dir: Path):
    engine = Engine(Bundle.load(tiny_bundle_dir), threads=1, batch_size=4)
    colours = {"red": (240, 5, 5), "green": (5, 240, 5), "blue": (5, 5, 240)}
    paths, expected = [], []
    for i in range(23):
        name = list(colours)[i % 3]
        p = tmp_path / f"{i:02d}.png"
        if i % 7 == 6:
            p.write_bytes(b"")  # empty file -> typed error, the run goes on
            expected.append(None)
        else:
            Image.new("RGB", (50 + i, 40), colours[name]).save(p)
            expected.append(name)
        paths.append(p)
    results = list(classify_files(paths, engine, workers=3, keep_embeddings=True))
    assert [r.path for r in results] == paths
    assert [r.prediction.label if r.prediction else None for r in results] == expected
    bad = [r for r in results if r.error]
    assert bad and all(r.error.code == "empty_file" for r in bad)
    good = next(r for r in results if r.prediction)
    assert good.embedding is not None and good.embedding.shape == (48,)
    assert good.facts is not None and len(good.facts.sha256) == 64


def test_decodes_at_twice_the_network_size(tmp_path: Path, tiny_bundle_dir: Path):
    engine = Engine(Bundle.load(tiny_bundle_dir), threads=1)
    seen: list[int] = []

    def spy(path: Path, side: int):
        seen.append(side)
        from smartalbum.imaging import load_photo

        return load_photo(path, max_side=side)

    p = tmp_path / "x.png"
    Image.new("RGB", (300, 200), (240, 5, 5)).save(p)
    [r] = list(classify_files([p], engine, decode=spy))
    assert seen == [working_side(engine)] == [64]
    assert r.prediction is not None and r.prediction.label == "red"
