"""How sure a category is, in words a person understands, and when to ask for help.

A taught category can look fine and still be wrong: a "dogs" category that claims half the
library, or one taught from three photos of the same dog. The numbers that show it are in
the head's metrics (fit.fit_prototype_head: how alike the examples are, whether each
example is found by the others) and in the catalog (how many photos it claims). This
module turns them into a size ("230 photos, 12 % of your library"), a confidence ("sure",
"fairly sure", "unsure") and a plain-words warning saying what to do; the photos that
would settle it are the active-learning queue (active.py), which the Teacher adds to its
results as ``questions`` when the category is not sure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SURE, FAIRLY_SURE, UNSURE = "sure", "fairly sure", "unsure"
#: A taught category claiming more than this share of a library is very likely too broad
#: (on the teaching benchmark a right-sized sub-category claims 1-20 %; a whole kind such
#: as "people" can reach a third of a family library, so the line is above that).
TOO_BROAD = 0.40
#: Fewer examples than this and the boundary rests on very little.
FEW_EXAMPLES = 5
#: Mean pairwise (centred) cosine of the examples at or above which they are near copies.
TOO_ALIKE = 0.9
#: Share of the examples that the others' prototype finds; below it, they share too little.
LOO_FOUND = 0.6
#: Libraries smaller than this say nothing about a share being plausible.
MIN_LIBRARY = 20
#: How many questions (photos to label) a warning asks for.
QUESTIONS = 10


@dataclass(frozen=True)
class Assessment:
    """A category's size and how sure it is."""

    members: int
    library: int
    confidence: str | None
    warning: str | None

    @property
    def share(self) -> float | None:
        return round(self.members / self.library, 4) if self.library else None

    @property
    def size_text(self) -> str:
        if not self.library:
            return f"{self.members} photos"
        pct = 100 * self.members / self.library
        shown = f"{pct:.0f}" if pct >= 1 or pct == 0 else "< 1"
        return f"{self.members:,} photos, {shown} % of your library"

    def to_dict(self) -> dict[str, Any]:
        return {
            "share": self.share,
            "size_text": self.size_text,
            "confidence": self.confidence,
            "warning": self.warning,
        }


def assess(
    metrics: dict[str, Any] | None, *, members: int, library: int, examples: int
) -> Assessment:
    """The assessment of a category with ``members`` of ``library`` photos, fitted with
    ``metrics`` (None: not fitted yet) from ``examples`` examples. Most serious first."""
    if metrics is None:
        return Assessment(members, library, None, None)
    ask = f"answer the {QUESTIONS} questions below (is each photo in it or not?)"
    share = members / library if library else 0.0
    if library >= MIN_LIBRARY and share > TOO_BROAD:
        return Assessment(
            members,
            library,
            UNSURE,
            f"It claims {100 * share:.0f} % of your library ({members:,} of {library:,} "
            f"photos): probably too broad. To teach it where it ends, {ask}.",
        )
    alike = metrics.get("examples_alike")
    if alike is not None and examples >= 2 and alike >= TOO_ALIKE:
        return Assessment(
            members,
            library,
            UNSURE,
            "Its examples look almost the same (the same scene, a burst?), so it can only "
            "find near copies of them: add a few examples that look different.",
        )
    found = metrics.get("loo_recall")
    if found is not None and found < LOO_FOUND:
        return Assessment(
            members,
            library,
            UNSURE,
            "Its examples have little in common that the model can see, so where it ends "
            f"is a guess: add more examples, or {ask}.",
        )
    if examples < FEW_EXAMPLES:
        return Assessment(
            members,
            library,
            FAIRLY_SURE,
            f"Taught from only {examples} example{'s' if examples != 1 else ''}: add a few "
            f"more that look different (5 to 10 is a good start), or {ask}.",
        )
    return Assessment(members, library, SURE, None)
