"""Search in plain words: "beach", "my dog", "Florence 2023", "Anna at the lake", "puppy".

A query is read in three steps:

1. **Dates** come out first (:mod:`smartalbum.tags.querydates`): "May 2024", "last summer".
   They filter; they do not rank.
2. **Exact words**: the longest runs of query words (up to 3) that are a known *term* — a
   tag, a category (built-in label or taught category), a place (city, region, country),
   a person's name or a camera — match the photos holding that term.
3. **Near words**: a word that is no term is embedded with the sentence model
   (:mod:`smartalbum.tags.textmodel`) and compared with the tag and category terms, so
   "puppy" finds *dog* and "sea" finds *beach*. Without the model package this step is
   skipped and the result says so (``semantic: false``).

Each matched query part gives every photo a score (term confidence x word similarity);
photos matching more parts rank first, then by the sum of scores. Every hit says why it
matched. The whole catalog is held as a :class:`SearchIndex` (term -> posting arrays), so
a query over 50,000 photos is a few numpy operations (docs/benchmarks.md); the index is
rebuilt only when the catalog changed (:func:`index_fingerprint`).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from smartalbum.errors import EXIT_USAGE, SmartAlbumError
from smartalbum.library.catalog import latest_corrections
from smartalbum.library.schema import FILE_PRESENT, Correction, File, Photo, Prediction
from smartalbum.library.schema_tags import TAG_REMOVED, PhotoTag
from smartalbum.tags.querydates import DateFilter, extract_dates
from smartalbum.tags.tagger import load_vocabulary

log = logging.getLogger(__name__)

TAG, CATEGORY, PLACE, PERSON, CAMERA = "tag", "category", "place", "person", "camera"
SEMANTIC_KINDS = (TAG, CATEGORY)
#: Below this cosine similarity a near word is no match (all-MiniLM-L6-v2: puppy~dog 0.80,
#: ocean~sea 0.87, seaside~beach 0.73, birthday~celebration 0.54, but dog~car 0.48).
MIN_SIMILARITY = 0.5
#: A near word matches at most this many terms (the closest ones).
MAX_NEAR_TERMS = 3
MAX_NGRAM = 3
QUERY_CACHE_SIZE = 4096
#: How long the search index is trusted without looking at the catalog again (seconds).
FRESH_S = 2.0
DEFAULT_LIMIT = 50
MAX_QUERY_LENGTH = 200
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "my",
        "me",
        "of",
        "on",
        "or",
        "our",
        "the",
        "their",
        "this",
        "that",
        "to",
        "with",
        "photo",
        "photos",
        "picture",
        "pictures",
        "pic",
        "pics",
        "image",
        "images",
        "show",
        "find",
        "all",
        "some",
    ]
)
COUNTRIES = {
    "AR": "argentina", "AT": "austria", "AU": "australia", "BE": "belgium", "BR": "brazil",
    "CA": "canada", "CH": "switzerland", "CN": "china", "CZ": "czechia", "DE": "germany",
    "DK": "denmark", "EG": "egypt", "ES": "spain", "FI": "finland", "FR": "france",
    "GB": "united kingdom", "GR": "greece", "HR": "croatia", "IE": "ireland", "IN": "india",
    "IS": "iceland", "IT": "italy", "JP": "japan", "KR": "south korea", "MA": "morocco",
    "MX": "mexico", "NL": "netherlands", "NO": "norway", "NZ": "new zealand", "PL": "poland",
    "PT": "portugal", "SE": "sweden", "TH": "thailand", "TR": "turkey", "US": "united states",
    "VN": "vietnam", "ZA": "south africa",
}  # fmt: skip
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)


class SearchQueryError(SmartAlbumError, ValueError):
    """The query text is empty, too long or holds control characters.

    The API answers it as a bad ``q`` parameter (400 ``bad_parameter``); the CLI as a usage
    error (exit 2).
    """

    code = "bad_parameter"
    title = "Bad Request"
    status = 400
    exit_code = EXIT_USAGE


def words(text: str) -> list[str]:
    return [w.strip("'’-").lower() for w in _WORD.findall(text) if w.strip("'’-")]


def _singular(word: str) -> str | None:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 2 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return None


# --------------------------------------------------------------------------- index


@dataclass
class Term:
    """A searchable word of the catalog and the photos that hold it (index positions)."""

    text: str
    kind: str
    display: str
    rows: np.ndarray  # int32 positions into SearchIndex.ids
    weights: np.ndarray  # float32 confidence of each


@dataclass
class SearchIndex:
    ids: np.ndarray  # photo ids (int64), position = row
    taken: list[datetime | None]
    terms: dict[str, list[Term]]  # normalised text -> terms (a word can be a tag and a place)
    fingerprint: Any = None
    _taken_ns: np.ndarray | None = field(default=None, repr=False)
    _months: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Naive camera-local times as seconds since a fixed origin (no time zone applied).
        self._taken_ns = np.array(
            [_seconds(t) if t is not None else np.nan for t in self.taken], dtype=np.float64
        )
        self._months = np.array([t.month if t else 0 for t in self.taken], dtype=np.int8)

    def __len__(self) -> int:
        return len(self.ids)

    def date_mask(self, filters: list[DateFilter]) -> np.ndarray:
        """Photos taken inside any of the date filters."""
        assert self._taken_ns is not None and self._months is not None
        mask = np.zeros(len(self.ids), dtype=bool)
        for f in filters:
            if f.month is not None:
                mask |= self._months == f.month
            else:
                assert f.start is not None and f.end is not None
                lo, hi = _seconds(f.start), _seconds(f.end)
                with np.errstate(invalid="ignore"):
                    mask |= (self._taken_ns >= lo) & (self._taken_ns < hi)
        return mask

    def semantic_terms(self) -> list[Term]:
        return [t for ts in self.terms.values() for t in ts if t.kind in SEMANTIC_KINDS]


_EPOCH = datetime(1970, 1, 1)


def _seconds(when: datetime) -> float:
    return (when.replace(tzinfo=None) - _EPOCH).total_seconds()


def _table_exists(session: Session, name: str) -> bool:
    return inspect(session.get_bind()).has_table(name)


def index_fingerprint(session: Session) -> tuple[Any, ...]:
    """Changes whenever anything search looks at changes (index maxima and counts: cheap)."""
    out: list[Any] = [
        session.scalar(select(func.max(Photo.id))),
        session.scalar(select(func.max(Photo.updated_at))),
        session.scalar(select(func.count(File.id)).where(File.status == FILE_PRESENT)),
        session.scalar(select(func.max(Prediction.id))),
        session.scalar(select(func.max(Correction.id))),
        session.scalar(select(func.max(PhotoTag.id))),
        session.scalar(select(func.count(PhotoTag.id)).where(PhotoTag.source == TAG_REMOVED)),
        session.scalar(select(func.count(PhotoTag.id))),
    ]
    for extra in _optional_fingerprints(session):
        out.append(extra)
    return tuple(out)


def _optional_fingerprints(session: Session) -> list[Any]:
    """People and taught categories, when those features' tables exist."""
    out: list[Any] = []
    try:
        from smartalbum.library.schema_faces import Face, Person

        out += [
            session.scalar(select(func.max(Person.updated_at)))
            if hasattr(Person, "updated_at")
            else session.scalar(select(func.count(Person.name))),
            session.scalar(select(func.count(Face.person_id))),
            session.scalar(select(func.max(Face.id))),
        ]
    except ImportError:  # pragma: no cover - the faces feature is not installed
        pass
    try:
        from smartalbum.library.schema_teach import Category, CategoryMember

        out += [
            session.scalar(select(func.max(CategoryMember.id))),
            session.scalar(select(func.count(CategoryMember.id))),
            session.scalar(select(func.max(Category.updated_at))),
        ]
    except ImportError:  # pragma: no cover
        pass
    return out


class _Builder:
    def __init__(self, ids: list[int]) -> None:
        self.row = {pid: i for i, pid in enumerate(ids)}
        self.postings: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
        self.display: dict[tuple[str, str], str] = {}

    def add(self, kind: str, text: str | None, photo_id: int, weight: float = 1.0) -> None:
        if not text:
            return
        row = self.row.get(photo_id)
        if row is None:
            return
        key = (" ".join(words(text)), kind)
        if not key[0]:
            return
        self.display.setdefault(key, text)
        p = self.postings[key]
        p[row] = max(p.get(row, 0.0), float(weight))

    def terms(self) -> dict[str, list[Term]]:
        out: dict[str, list[Term]] = defaultdict(list)
        for (text, kind), post in self.postings.items():
            rows = np.fromiter(post.keys(), dtype=np.int32, count=len(post))
            weights = np.fromiter(post.values(), dtype=np.float32, count=len(post))
            out[text].append(Term(text, kind, self.display[(text, kind)], rows, weights))
        return dict(out)


def build_index(session: Session, *, head: str | None = None) -> SearchIndex:
    """Read everything search needs from the catalog (photos with a present copy)."""
    present = select(File.photo_id).where(File.status == FILE_PRESENT).distinct()
    rows = session.execute(
        select(
            Photo.id,
            Photo.taken_at,
            Photo.city,
            Photo.region,
            Photo.country,
            Photo.camera_make,
            Photo.camera_model,
        )
        .where(Photo.id.in_(present))
        .order_by(Photo.id)
    ).all()
    ids = [r[0] for r in rows]
    b = _Builder(ids)
    for pid, _taken, city, region, country, make, model in rows:
        b.add(PLACE, city, pid)
        b.add(PLACE, region, pid)
        if country:
            b.add(PLACE, country, pid, 0.9)
            name = COUNTRIES.get(country.upper())
            b.add(PLACE, name.title() if name else None, pid)
        b.add(CAMERA, make, pid)
        b.add(CAMERA, model, pid)
        if make and len(words(make)) > 1:  # "NIKON CORPORATION" is found as "nikon"
            b.add(CAMERA, words(make)[0].upper(), pid, 0.9)
    for pid, tag, conf in session.execute(
        select(PhotoTag.photo_id, PhotoTag.tag, PhotoTag.confidence).where(
            PhotoTag.source != TAG_REMOVED
        )
    ):
        b.add(TAG, tag, pid, conf)
    _add_categories(session, b, ids, head)
    _add_taught(session, b)
    _add_people(session, b)
    return SearchIndex(
        ids=np.array(ids, dtype=np.int64),
        taken=[r[1] for r in rows],
        terms=b.terms(),
    )


def _add_categories(session: Session, b: _Builder, ids: list[int], head: str | None) -> None:
    """The built-in label that counts: the latest correction, else the latest prediction."""
    q = select(Prediction.photo_id, Prediction.label, Prediction.confidence, Prediction.uncertain)
    if head is not None:
        q = q.where(Prediction.head == head)
    latest: dict[int, tuple[str, float]] = {}
    for pid, label, conf, uncertain in session.execute(q.order_by(Prediction.id)):
        latest[pid] = (label, float(conf) * (0.5 if uncertain else 1.0))
    for pid, label in latest_corrections(session, ids).items():
        latest[pid] = (label, 1.0)
    for pid, (label, conf) in latest.items():
        b.add(CATEGORY, label, pid, conf)


def _add_taught(session: Session, b: _Builder) -> None:
    try:
        from smartalbum.library.schema_teach import Category, CategoryMember
    except ImportError:  # pragma: no cover - the categories feature is not installed
        return
    if not _table_exists(session, "category_members"):
        return
    for pid, name, score in session.execute(
        select(CategoryMember.photo_id, Category.name, CategoryMember.score).join(
            Category, Category.id == CategoryMember.category_id
        )
    ):
        b.add(CATEGORY, name, pid, min(1.0, max(0.0, float(score))))


def _add_people(session: Session, b: _Builder) -> None:
    try:
        from smartalbum.library.schema_faces import Face, Person
    except ImportError:  # pragma: no cover - the faces feature is not installed
        return
    if not _table_exists(session, "faces"):
        return
    for pid, name in session.execute(
        select(Face.photo_id, Person.name)
        .join(Person, Person.id == Face.person_id)
        .where(Person.name.is_not(None))
    ):
        b.add(PERSON, name, pid)
        first = words(name)[:1]
        if first and first[0] != " ".join(words(name)):
            b.add(PERSON, first[0], pid, 0.9)  # "Anna" finds "Anna Rossi"


# --------------------------------------------------------------------------- embeddings


class TermEmbeddings:
    """Sentence embeddings of term texts, computed once and kept on disk next to the
    catalog (``<data_dir>/cache/search_terms.npz``), so a query embeds only its own words."""

    def __init__(self, model: Any, path: Path | None = None) -> None:
        self.model = model
        self.path = path
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as npz:
                    if str(npz["model"]) == model.name:
                        for text, vec in zip(npz["texts"], npz["vectors"], strict=True):
                            self._vectors[str(text)] = vec
            except (OSError, KeyError, ValueError) as exc:
                log.warning("ignoring unreadable search cache %s: %s", path, exc)

    def get(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = sorted({t for t in texts if t not in self._vectors})
            if missing:
                for text, vec in zip(missing, self.model.encode(missing), strict=True):
                    self._vectors[text] = vec
                self._save()
            if not texts:
                return np.zeros((0, 384), dtype=np.float32)
            return np.stack([self._vectors[t] for t in texts])

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            texts = sorted(self._vectors)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz")
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    model=np.array(self.model.name),
                    texts=np.array(texts),
                    vectors=np.stack([self._vectors[t] for t in texts]),
                )
            os.replace(tmp, self.path)
        except OSError as exc:  # a read-only data dir only costs recomputation
            log.warning("cannot write search cache %s: %s", self.path, exc)


# --------------------------------------------------------------------------- search


@dataclass
class Match:
    """What one query part matched: the term and how near the query word was (1 = exact)."""

    part: str
    term: Term
    similarity: float


@dataclass
class SearchHit:
    photo_id: int
    score: float
    matched: int  # query parts matched (of SearchResult.parts)
    why: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "photo_id": self.photo_id,
            "score": round(self.score, 4),
            "matched": self.matched,
            "why": self.why,
        }


@dataclass
class SearchResult:
    query: str
    hits: list[SearchHit]
    total: int
    parts: list[str]  # the query parts that were looked for (words, phrases)
    unmatched: list[str]  # parts nothing in the catalog matched
    dates: list[str]
    semantic: bool
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "parts": self.parts,
            "unmatched": self.unmatched,
            "dates": self.dates,
            "semantic": self.semantic,
            "message": self.message,
            "results": [h.to_dict() for h in self.hits],
        }


def check_query(text: str) -> str:
    text = text.strip()
    if not text or len(text) > MAX_QUERY_LENGTH:
        raise SearchQueryError(f"a query must be 1 to {MAX_QUERY_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise SearchQueryError("a query must not contain control characters")
    return text


class Searcher:
    """Answers queries over one :class:`SearchIndex` (thread-safe: read-only after init)."""

    def __init__(
        self,
        index: SearchIndex,
        embeddings: TermEmbeddings | None = None,
        *,
        min_similarity: float = MIN_SIMILARITY,
    ) -> None:
        self.index = index
        self.embeddings = embeddings
        self.min_similarity = min_similarity
        self._semantic = index.semantic_terms()
        self._semantic_vectors: np.ndarray | None = None
        self._query_cache: dict[str, np.ndarray] = {}  # recent query words (oldest first)
        if embeddings is not None and self._semantic:
            self._semantic_vectors = embeddings.get([t.text for t in self._semantic])

    @property
    def semantic(self) -> bool:
        return self.embeddings is not None

    def _split(self, text: str) -> tuple[list[tuple[str, list[Match]]], list[str]]:
        """Query words -> parts with their exact matches, and leftover words."""
        tokens = [w for w in words(text) if w not in STOPWORDS]
        parts: list[tuple[str, list[Match]]] = []
        leftover: list[str] = []
        i = 0
        while i < len(tokens):
            for n in range(min(MAX_NGRAM, len(tokens) - i), 0, -1):
                phrase = " ".join(tokens[i : i + n])
                terms = self.index.terms.get(phrase)
                if terms is None and n == 1:
                    single = _singular(phrase)
                    terms = self.index.terms.get(single) if single else None
                if terms:
                    parts.append((phrase, [Match(phrase, t, 1.0) for t in terms]))
                    i += n
                    break
            else:
                leftover.append(tokens[i])
                i += 1
        return parts, leftover

    def _near(self, words_: list[str]) -> list[tuple[str, list[Match]]]:
        if self.embeddings is None or self._semantic_vectors is None or not words_:
            return [(w, []) for w in words_]
        missing = [w for w in words_ if w not in self._query_cache]
        if missing:
            for w, vec in zip(missing, self.embeddings.model.encode(missing), strict=True):
                if len(self._query_cache) >= QUERY_CACHE_SIZE:
                    self._query_cache.pop(next(iter(self._query_cache)), None)
                self._query_cache[w] = vec
        query = np.stack([self._query_cache[w] for w in words_])
        sims = query @ self._semantic_vectors.T
        out = []
        for w, row in zip(words_, sims, strict=True):
            best = np.argsort(-row)[:MAX_NEAR_TERMS]
            out.append(
                (
                    w,
                    [
                        Match(w, self._semantic[j], float(row[j]))
                        for j in best
                        if row[j] >= self.min_similarity
                    ],
                )
            )
        return out

    def search(
        self, text: str, *, limit: int = DEFAULT_LIMIT, today: date | None = None
    ) -> SearchResult:
        text = check_query(text)
        filters, rest = extract_dates(text, today)
        exact, leftover = self._split(rest)
        parts = exact + self._near(leftover)
        n = len(self.index)
        matched_parts = [(p, ms) for p, ms in parts if ms]
        unmatched = [p for p, ms in parts if not ms]

        count = np.zeros(n, dtype=np.int16)
        score = np.zeros(n, dtype=np.float32)
        best: list[tuple[np.ndarray, np.ndarray, list[Match]]] = []
        for _part, matches in matched_parts:
            stack = np.zeros((len(matches), n), dtype=np.float32)
            for k, m in enumerate(matches):
                stack[k, m.term.rows] = m.term.weights * m.similarity
            part_score = stack.max(axis=0)
            best.append((stack.argmax(axis=0), part_score, matches))
            hit = part_score > 0
            count += hit
            score += part_score

        if filters:
            mask = self.index.date_mask(filters)
            if not matched_parts:  # dates only: every photo of those dates
                count = mask.astype(np.int16)
                score = mask.astype(np.float32)
            else:
                count = np.where(mask, count, 0)
        candidates = np.flatnonzero(count > 0)
        if matched_parts and len(candidates):
            # Photos matching every part first; then more parts; then the score.
            order = np.lexsort((-score[candidates], -count[candidates]))
        else:
            order = np.arange(len(candidates))
        top = candidates[order[:limit]]
        hits = [
            SearchHit(
                photo_id=int(self.index.ids[r]),
                score=float(score[r]),
                matched=int(count[r]) if matched_parts else 0,
                why=self._why(r, best, filters),
            )
            for r in top
        ]
        message = None
        if not self.semantic and leftover:
            message = "near-word matching is off (text model not installed): exact words only"
        return SearchResult(
            query=text,
            hits=hits,
            total=len(candidates),
            parts=[p for p, _ in parts],
            unmatched=unmatched,
            dates=[f.text for f in filters],
            semantic=self.semantic,
            message=message,
        )

    def _why(
        self,
        row: int,
        best: list[tuple[np.ndarray, np.ndarray, list[Match]]],
        filters: list[DateFilter],
    ) -> list[str]:
        out = []
        for argmax, part_score, matches in best:
            if part_score[row] <= 0:
                continue
            m = matches[int(argmax[row])]
            conf = float(part_score[row]) / max(m.similarity, 1e-6)
            what = f'{m.term.kind} "{m.term.display}"'
            if m.term.kind in (TAG, CATEGORY) and conf < 1.0:
                what += f" ({conf:.2f})"
            if m.similarity < 1.0:
                what += f' ~ "{m.part}" (similarity {m.similarity:.2f})'
            out.append(what)
        taken = self.index.taken[row]
        for f in filters:
            if f.matches(taken):
                out.append(f"{f.describe()} ({taken:%Y-%m-%d})" if taken else f.describe())
                break
        return out


def vocabulary_terms() -> list[str]:
    """Every word the tagger can give (precomputed into the embedding cache)."""
    return load_vocabulary().words


# --------------------------------------------------------------------------- service


def service_from_settings(factory: Any, settings: Any, *, head: str | None = None) -> SearchService:
    """The :class:`SearchService` configured by ``settings.search`` (cache under data_dir)."""
    cfg = settings.search
    return SearchService(
        factory,
        cache_dir=Path(settings.data_dir) / "cache",
        head=head,
        fresh_s=cfg.fresh_s,
        semantic=cfg.semantic,
        min_similarity=cfg.min_similarity,
    )


class SearchService:
    """A :class:`Searcher` over a catalog, rebuilt when the catalog changed.

    One per process (CLI run, web app). The text model is loaded on first use; when its
    package is missing, ``unavailable`` holds the reason and search is exact-words only.
    """

    def __init__(
        self,
        factory: Any,
        *,
        cache_dir: Path | None = None,
        head: str | None = None,
        fresh_s: float = FRESH_S,
        semantic: bool = True,
        min_similarity: float = MIN_SIMILARITY,
    ):
        self.factory = factory
        self.cache_dir = cache_dir
        self.head = head
        self.fresh_s = fresh_s
        self.semantic = semantic
        self.min_similarity = min_similarity
        self._checked = 0.0  # monotonic time of the last fingerprint check
        self.unavailable: str | None = None
        self._embeddings: TermEmbeddings | None = None
        self._model_tried = False
        self._searcher: Searcher | None = None
        self._lock = threading.Lock()

    def _term_embeddings(self) -> TermEmbeddings | None:
        if not self.semantic:
            self.unavailable = "turned off (SMARTALBUM_SEARCH__SEMANTIC=false)"
            return None
        if not self._model_tried:
            self._model_tried = True
            from smartalbum.tags.textmodel import TextModelUnavailable, load_text_model

            try:
                model = load_text_model()
            except TextModelUnavailable as exc:
                self.unavailable = str(exc)
                log.warning("search: %s", exc)
                return None
            path = self.cache_dir / "search_terms.npz" if self.cache_dir else None
            self._embeddings = TermEmbeddings(model, path)
        return self._embeddings

    def invalidate(self) -> None:
        """Check the catalog again on the next query (after an edit made through us)."""
        self._checked = 0.0

    def searcher(self) -> Searcher:
        # The fingerprint is a handful of aggregate queries (~30 ms on 50,000 photos):
        # a burst of queries (typing, paging) checks it once per FRESH_S seconds.
        now = time.monotonic()
        current = self._searcher
        if current is not None and self._checked and now - self._checked < self.fresh_s:
            return current
        with self.factory() as session:
            fingerprint = index_fingerprint(session)
            with self._lock:
                self._checked = now
                if self._searcher is not None and self._searcher.index.fingerprint == fingerprint:
                    return self._searcher
                index = build_index(session, head=self.head)
                index.fingerprint = fingerprint
                self._searcher = Searcher(
                    index, self._term_embeddings(), min_similarity=self.min_similarity
                )
                return self._searcher

    def search(self, text: str, **kwargs: Any) -> SearchResult:
        result = self.searcher().search(text, **kwargs)
        if self.unavailable and not result.semantic:
            result.message = f"near-word matching is off: {self.unavailable}"
        return result
