"""Heads: small classifiers over backbone embeddings, evaluated in plain numpy.

Everything that sorts photos is a head over the frozen backbone's embedding. A head is
tiny (a linear layer, or a small MLP), so it is stored as JSON beside the backbone, runs
without torch, and can be re-fitted in seconds from stored embeddings.

A head turns an embedding into calibrated probabilities: its input features are the L2
normalised embedding, optionally followed by a few ImageNet *concept* scores (see
model/concepts.py; computed from the same embedding through the backbone's ImageNet
classifier, which the bundle carries), then optional standardisation, the layers (ReLU
between them), and softmax of ``logits / temperature``. ``threshold`` marks a prediction ``uncertain`` when the top
probability is below it: such photos go to review instead of a wrong folder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from smartalbum.atomic import write_atomic
from smartalbum.model.concepts import concept_matrix, concept_scores


@dataclass(frozen=True)
class Prediction:
    """One photo's result under one head."""

    label: str
    confidence: float
    uncertain: bool
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "uncertain": self.uncertain,
            "probabilities": {k: round(float(v), 6) for k, v in self.probabilities.items()},
        }


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise numerically stable softmax."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)


@dataclass
class Head:
    """A classifier over embeddings: labels, layers, calibration and its threshold."""

    name: str
    labels: list[str]
    weights: list[np.ndarray]  # each (in, out)
    biases: list[np.ndarray]  # each (out,)
    l2_normalize: bool = True
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    temperature: float = 1.0
    threshold: float = 0.5
    metrics: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    concepts: dict[str, list[int]] | None = None
    concept_scale: float = 0.1
    # The backbone's ImageNet classifier (weight D x 1000, bias); attached by Bundle.load
    # from imagenet_fc.npz, never serialised with the head.
    concept_fc: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.biases) or not self.weights:
            raise ValueError("a head needs as many bias vectors as weight matrices (>= 1)")
        if self.weights[-1].shape[1] != len(self.labels):
            raise ValueError(
                f"head {self.name!r}: last layer has {self.weights[-1].shape[1]} outputs "
                f"for {len(self.labels)} labels"
            )
        if self.temperature <= 0:
            raise ValueError("temperature must be positive")

    @property
    def input_dim(self) -> int:
        """The embedding size this head takes (its first layer minus concept features)."""
        return int(self.weights[0].shape[0]) - (len(self.concepts) if self.concepts else 0)

    def features(self, embeddings: np.ndarray) -> np.ndarray:
        """Embeddings -> the head's input features (before standardisation)."""
        raw = np.asarray(embeddings, dtype=np.float32)
        if raw.ndim != 2 or raw.shape[1] != self.input_dim:
            raise ValueError(f"expected N x {self.input_dim} embeddings, got {raw.shape}")
        x = l2_normalize(raw) if self.l2_normalize else raw
        if self.concepts:
            if self.concept_fc is None:
                raise ValueError(
                    f"head {self.name!r} uses ImageNet concepts but no classifier is attached"
                )
            scores = concept_scores(raw, self.concept_fc, concept_matrix(self.concepts))
            x = np.concatenate([x, self.concept_scale * scores], axis=1)
        return x

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        """Raw scores (N x labels) before temperature and softmax."""
        x = self.features(embeddings)
        if self.mean is not None:
            x = x - self.mean
        if self.scale is not None:
            x = x / self.scale
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = x @ w + b
            if i < len(self.weights) - 1:
                x = np.maximum(x, 0.0)
        return x

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (N x labels)."""
        return softmax(self.logits(embeddings) / self.temperature)

    def predict(self, embeddings: np.ndarray) -> list[Prediction]:
        """One :class:`Prediction` per embedding row."""
        probs = self.probabilities(embeddings)
        out = []
        for row in probs:
            top = int(np.argmax(row))
            conf = float(row[top])
            out.append(
                Prediction(
                    label=self.labels[top],
                    confidence=conf,
                    uncertain=conf < self.threshold,
                    probabilities={lab: float(p) for lab, p in zip(self.labels, row, strict=True)},
                )
            )
        return out

    # -- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        def arr(a: np.ndarray | None) -> list | None:
            return None if a is None else np.asarray(a, dtype=np.float32).tolist()

        return {
            "format": "smartalbum-head/1",
            "name": self.name,
            "description": self.description,
            "labels": list(self.labels),
            "l2_normalize": self.l2_normalize,
            "mean": arr(self.mean),
            "scale": arr(self.scale),
            "layers": [
                {"weight": arr(w), "bias": arr(b)}
                for w, b in zip(self.weights, self.biases, strict=True)
            ],
            "temperature": float(self.temperature),
            "threshold": float(self.threshold),
            "concepts": self.concepts,
            "concept_scale": float(self.concept_scale),
            "metrics": self.metrics,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Head:
        if d.get("format") != "smartalbum-head/1":
            raise ValueError(f"not a Smart Album head (format={d.get('format')!r})")

        def arr(a: list | None) -> np.ndarray | None:
            return None if a is None else np.asarray(a, dtype=np.float32)

        return cls(
            name=d["name"],
            description=d.get("description", ""),
            labels=list(d["labels"]),
            l2_normalize=bool(d.get("l2_normalize", True)),
            mean=arr(d.get("mean")),
            scale=arr(d.get("scale")),
            weights=[np.asarray(layer["weight"], dtype=np.float32) for layer in d["layers"]],
            biases=[np.asarray(layer["bias"], dtype=np.float32) for layer in d["layers"]],
            temperature=float(d.get("temperature", 1.0)),
            threshold=float(d.get("threshold", 0.5)),
            concepts=d.get("concepts"),
            concept_scale=float(d.get("concept_scale", 0.1)),
            metrics=dict(d.get("metrics", {})),
        )

    def save(self, path: Path) -> None:
        """Write the head as JSON, atomically (write a temporary file, then rename)."""
        write_atomic(path, json.dumps(self.to_dict(), separators=(",", ":")) + "\n")

    @classmethod
    def load(cls, path: Path) -> Head:
        return cls.from_dict(json.loads(path.read_text()))

    def __setattr__(self, name: str, value: Any) -> None:
        # Any assignment (new weights, a fitted temperature...) makes a new version.
        self.__dict__.pop("_version", None)
        super().__setattr__(name, value)

    @property
    def version(self) -> str:
        """A short content hash: changes whenever weights, labels or calibration change.

        Computed once and kept until an attribute is assigned (arrays are replaced, never
        edited in place): the web cache asks for it twice per request, and hashing the
        weights each time cost ~1 ms.
        """
        version = self.__dict__.get("_version")
        if version is None:
            version = self.__dict__["_version"] = self._content_hash()
        return version

    def _content_hash(self) -> str:
        h = hashlib.sha256()
        meta = {
            "name": self.name, "labels": self.labels, "l2": self.l2_normalize,
            "t": float(self.temperature), "th": float(self.threshold),
            "concepts": self.concepts, "cs": float(self.concept_scale),
        }
        h.update(json.dumps(meta, sort_keys=True).encode())
        for a in [*self.weights, *self.biases, self.mean, self.scale]:
            h.update(b"-" if a is None else np.ascontiguousarray(a, dtype=np.float32).tobytes())
        return h.hexdigest()[:12]


def fit_logistic_head(
    name: str,
    labels: list[str],
    embeddings: np.ndarray,
    y: np.ndarray,
    *,
    c: float = 1.0,
    concepts: dict[str, list[int]] | None = None,
    concept_fc: tuple[np.ndarray, np.ndarray] | None = None,
    concept_scale: float = 0.1,
    class_weighted: bool = True,
    description: str = "",
) -> Head:
    """Fit a multinomial logistic-regression head on embeddings, without torch.

    Seconds on tens of thousands of embeddings (L-BFGS), which is what makes teaching a
    category or re-training from corrections instant. ``y`` holds label indices. The
    caller calibrates ``temperature``/``threshold`` on held-out data.
    """
    from sklearn.linear_model import LogisticRegression

    head = Head(
        name=name,
        labels=list(labels),
        weights=[np.zeros((embeddings.shape[1] + (len(concepts) if concepts else 0),
                           len(labels)), np.float32)],
        biases=[np.zeros(len(labels), np.float32)],
        concepts=concepts,
        concept_fc=concept_fc,
        concept_scale=concept_scale,
        description=description,
    )
    x = head.features(embeddings)
    clf = LogisticRegression(
        C=c, max_iter=3000, class_weight="balanced" if class_weighted else None
    ).fit(x, y)
    coef, bias = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:  # sklearn stores one row for two classes: make it symmetric
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        bias = np.array([-bias[0] / 2, bias[0] / 2])
    present = list(clf.classes_)
    w = np.zeros((x.shape[1], len(labels)), np.float32)
    b = np.full(len(labels), -1e4, np.float32)  # a label without examples is never chosen
    for row, k in enumerate(present):
        w[:, k] = coef[row]
        b[k] = bias[row]
    head.weights, head.biases = [w], [b]
    return head
