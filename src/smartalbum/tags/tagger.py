"""Automatic keywords from stored embeddings: ImageNet probabilities -> a few good tags.

The backbone's ImageNet classifier (``imagenet_fc.npz`` in the bundle) turns a stored
embedding into 1,000 class probabilities with one matrix product, so tagging needs no
decoding and no backbone run, and re-tagging 50,000 photos after a vocabulary change takes
seconds. The raw labels are never shown ("tabby", "Egyptian cat" and "hen-of-the-woods" are
not what people type): a curated vocabulary (``vocabulary.json``, like PhotoPrism's rules
file) groups classes into rules, each with a threshold on the group's probability mass, a
priority, the words it gives and the broader category it implies. Summing a group's mass is
what makes this robust: a photo of a dog split 30/25/20 % between three terriers is still
75 % "dog".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from smartalbum.errors import SmartAlbumError
from smartalbum.tags.errors import InvalidTagError

VOCABULARY_PATH = Path(__file__).resolve().parent / "vocabulary.json"
VOCABULARY_FORMAT = "smartalbum-vocabulary/1"
N_CLASSES = 1000
#: A category implied by a rule is a slightly weaker claim than the rule's own words.
CATEGORY_FACTOR = 0.9
#: Ranking when a photo has more tags than ``max_tags``: confidence, nudged by priority.
PRIORITY_WEIGHT = 0.05


class VocabularyError(SmartAlbumError, ValueError):
    """The vocabulary file is malformed (unknown class index, missing field...).

    The vocabulary ships with the package, so this is a broken installation: a server error.
    """

    code = "bad_vocabulary"
    title = "Tag vocabulary cannot be loaded"
    status = 500


@dataclass(frozen=True)
class Rule:
    id: str
    classes: tuple[int, ...]
    threshold: float
    priority: int
    words: tuple[str, ...]
    category: str | None


@dataclass(frozen=True)
class Tag:
    """One keyword of a photo; ``rule`` says which vocabulary rule gave it (why)."""

    tag: str
    confidence: float
    rule: str | None = None


@dataclass(frozen=True)
class Vocabulary:
    rules: tuple[Rule, ...]
    categories: tuple[str, ...]
    max_tags: int
    version: str  # content hash: tags computed with another vocabulary are re-computed

    @property
    def words(self) -> list[str]:
        """Every keyword the vocabulary can give, categories included (sorted)."""
        out = {w for r in self.rules for w in r.words} | set(self.categories)
        return sorted(out)

    def matrix(self) -> np.ndarray:
        """(1000 x rules) 0/1: probabilities @ matrix = each rule's probability mass."""
        m = np.zeros((N_CLASSES, len(self.rules)), dtype=np.float32)
        for j, rule in enumerate(self.rules):
            m[list(rule.classes), j] = 1.0
        return m


def _classes(spec: list[int | str], rule_id: str) -> tuple[int, ...]:
    out: set[int] = set()
    for item in spec:
        if isinstance(item, int):
            out.add(item)
        elif isinstance(item, str) and "-" in item:
            a, b = (int(x) for x in item.split("-", 1))
            out.update(range(a, b + 1))
        else:
            raise VocabularyError(f"rule {rule_id!r}: class {item!r} is not an index or 'a-b'")
    if not out or min(out) < 0 or max(out) >= N_CLASSES:
        raise VocabularyError(f"rule {rule_id!r}: classes must be 0..{N_CLASSES - 1}")
    return tuple(sorted(out))


def parse_vocabulary(text: str) -> Vocabulary:
    """Parse and check a vocabulary document (the JSON of ``vocabulary.json``)."""
    try:
        data = json.loads(text)
        if data.get("format") != VOCABULARY_FORMAT:
            raise VocabularyError(f"unknown vocabulary format {data.get('format')!r}")
        categories = tuple(data["categories"])
        rules = []
        for raw in data["rules"]:
            category = raw.get("category")
            if category is not None and category not in categories:
                raise VocabularyError(f"rule {raw['id']!r}: unknown category {category!r}")
            rules.append(
                Rule(
                    id=str(raw["id"]),
                    classes=_classes(raw["classes"], raw["id"]),
                    threshold=float(raw["threshold"]),
                    priority=int(raw.get("priority", 0)),
                    words=tuple(normalize_tag(w) for w in raw["words"]),
                    category=category,
                )
            )
        max_tags = int(data.get("max_tags", 6))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, VocabularyError):
            raise
        raise VocabularyError(f"malformed vocabulary: {exc}") from exc
    version = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Vocabulary(tuple(rules), categories, max_tags, version)


@lru_cache(maxsize=4)
def load_vocabulary(path: Path = VOCABULARY_PATH) -> Vocabulary:
    """The shipped (or given) vocabulary, parsed once per process."""
    return parse_vocabulary(Path(path).read_text(encoding="utf-8"))


def normalize_tag(text: str) -> str:
    """How a tag is stored: lower case, single spaces, no control characters, <= 64 chars."""
    cleaned = " ".join("".join(c for c in text if c.isprintable()).split()).lower()
    if not cleaned or len(cleaned) > 64:
        raise InvalidTagError("a tag must be 1 to 64 printable characters")
    return cleaned


def imagenet_probabilities(embeddings: np.ndarray, fc: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Softmax of the backbone's ImageNet logits (embedding @ W + b), N x 1000."""
    w, b = fc
    logits = np.asarray(embeddings, dtype=np.float32) @ w + b
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    return p


class Tagger:
    """Embeddings -> tags with one matrix product per batch (thread-safe, stateless)."""

    def __init__(self, fc: tuple[np.ndarray, np.ndarray], vocabulary: Vocabulary | None = None):
        self.fc = (np.asarray(fc[0], np.float32), np.asarray(fc[1], np.float32))
        self.vocabulary = vocabulary or load_vocabulary()
        self._matrix = self.vocabulary.matrix()
        self._thresholds = np.array([r.threshold for r in self.vocabulary.rules], np.float32)

    @property
    def version(self) -> str:
        return self.vocabulary.version

    def tag(self, embeddings: np.ndarray) -> list[list[Tag]]:
        """A few keywords per embedding, best first, each with its confidence (0..1)."""
        if len(embeddings) == 0:
            return []
        masses = imagenet_probabilities(embeddings, self.fc) @ self._matrix
        return [self._photo_tags(row) for row in masses]

    def _photo_tags(self, masses: np.ndarray) -> list[Tag]:
        best: dict[str, tuple[float, int, str]] = {}  # word -> (confidence, priority, rule)

        def offer(word: str, confidence: float, priority: int, rule: str) -> None:
            old = best.get(word)
            if old is None or confidence > old[0]:
                best[word] = (confidence, max(priority, old[1] if old else priority), rule)

        for j in np.flatnonzero(masses >= self._thresholds):
            rule = self.vocabulary.rules[j]
            mass = float(min(masses[j], 1.0))
            for rank, word in enumerate(rule.words):
                # The first word is the rule's own; later ones are broader ("animal").
                offer(word, mass, rule.priority - rank, rule.id)
            if rule.category:
                offer(rule.category, mass * CATEGORY_FACTOR, rule.priority - 2, rule.id)
        ranked = sorted(
            best.items(), key=lambda kv: (-(kv[1][0] + PRIORITY_WEIGHT * kv[1][1]), kv[0])
        )
        return [
            Tag(word, round(conf, 4), rule)
            for word, (conf, _prio, rule) in ranked[: self.vocabulary.max_tags]
        ]
