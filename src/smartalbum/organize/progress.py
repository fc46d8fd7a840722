"""Progress of a run: per journaled step (``Progress``), or per finished photo.

The executor reports every step it journals; a progress bar or a job counts photos.
:class:`PhotoProgress` is the one adapter between the two, used by :func:`organize.run`
for the CLI's bar and the job's ``done`` counter alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smartalbum.organize.plan import PlanItem

#: ``progress(item, step)``: called after every journaled step of a photo.
Progress = Callable[["PlanItem", str], None]
#: ``fault(step, item)``: called after every step too; tests raise in it to simulate a crash.
Fault = Callable[[str, "PlanItem"], None]

#: The steps after which a photo needs nothing more (a move's unlink aside).
FINISHED_STEPS = frozenset({"verified", "skipped", "failed"})


class PhotoProgress:
    """Turns per-step reports into ``advance(1)`` once per finished photo."""

    def __init__(self, advance: Callable[[int], object]) -> None:
        self.advance = advance
        self.seen: set[int] = set()

    def __call__(self, item: PlanItem, step: str) -> None:
        if step in FINISHED_STEPS and item.index not in self.seen:
            self.seen.add(item.index)
            self.advance(1)
