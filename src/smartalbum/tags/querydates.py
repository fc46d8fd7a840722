"""Dates in plain words: "May 2024", "2023", "last summer", "yesterday", "24 May 2024".

A search box query mixes dates with other words ("Florence 2023", "beach last summer"), so
:func:`extract_dates` finds the date expressions, turns each into a half-open range of
camera-local times ``[start, end)`` (``Photo.taken_at`` is the camera's wall-clock time,
which is what a person means by "taken in May") and returns the rest of the text for the
word matching. Everything is relative to ``today`` (passed in, so tests are exact).

Seasons are the meteorological ones of the northern hemisphere (summer = June to August;
winter 2023 = December 2023 to February 2024). A month without a year ("photos from May")
means that month in any year; a season without a year or "last"/"this" is left as a word
(it may well be a tag: "snow", "summer").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}  # first month
MIN_YEAR, MAX_YEAR = 1826, 2200  # the first photograph; far future

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_SEASON = "|".join(SEASONS)
_YEAR = r"(?:18|19|20|21)\d\d"
_PATTERNS = [
    ("iso_day", rf"\b({_YEAR})-(\d\d)-(\d\d)\b"),
    ("iso_month", rf"\b({_YEAR})-(\d\d)\b"),
    ("day_month_year", rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH})\.?,?\s+({_YEAR})\b"),
    ("month_day_year", rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+({_YEAR})\b"),
    ("month_year", rf"\b({_MONTH})\.?,?\s+(?:of\s+)?({_YEAR})\b"),
    ("season_year", rf"\b({_SEASON})\s+(?:of\s+)?({_YEAR})\b"),
    ("rel_season", rf"\b(last|this|past)\s+({_SEASON})\b"),
    ("rel_unit", r"\b(last|this|past)\s+(week|month|year)\b"),
    ("day_word", r"\b(today|yesterday)\b"),
    ("year", rf"\b(?:in\s+)?({_YEAR})\b"),
    ("month", rf"\b(?:in\s+)?({'|'.join(n for n in MONTHS if len(n) > 3 or n == 'may')})\b"),
]
_COMPILED = [(kind, re.compile(rx, re.IGNORECASE)) for kind, rx in _PATTERNS]


@dataclass(frozen=True)
class DateFilter:
    """A date expression: a range ``[start, end)``, or a month of any year (``month``)."""

    text: str
    start: datetime | None = None
    end: datetime | None = None
    month: int | None = None

    def describe(self) -> str:
        if self.month is not None:
            return f"taken in {self.text}"
        return f"taken {self.text}"

    def matches(self, when: datetime | None) -> bool:
        if when is None:
            return False
        if self.month is not None:
            return when.month == self.month
        assert self.start is not None and self.end is not None
        return self.start <= when < self.end


def _dt(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def _month_range(year: int, month: int, months: int = 1) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1)
    total = year * 12 + (month - 1) + months
    return start, datetime(total // 12, total % 12 + 1, 1)


def _season_range(year: int, season: str) -> tuple[datetime, datetime]:
    return _month_range(year, SEASONS[season], 3)


def _relative_season(which: str, season: str, today: date) -> tuple[datetime, datetime]:
    now = _dt(today)
    year = today.year
    # The season's occurrence that started most recently (winter starts in December).
    start, end = _season_range(year, season)
    if start > now:
        start, end = _season_range(year - 1, season)
    if which in ("last", "past") and end > now:  # still going on: "last" means the one before
        start, end = _season_range(start.year - 1, season)
    return start, end


def _filter(kind: str, m: re.Match[str], today: date) -> DateFilter | None:
    text = re.sub(r"^in\s+", "", m.group(0).strip(), flags=re.IGNORECASE)
    g = m.groups()
    try:
        if kind == "iso_day":
            start = datetime(int(g[0]), int(g[1]), int(g[2]))
            return DateFilter(text, start, start + timedelta(days=1))
        if kind == "iso_month":
            return DateFilter(text, *_month_range(int(g[0]), int(g[1])))
        if kind == "day_month_year":
            start = datetime(int(g[2]), MONTHS[g[1].lower()], int(g[0]))
            return DateFilter(text, start, start + timedelta(days=1))
        if kind == "month_day_year":
            start = datetime(int(g[2]), MONTHS[g[0].lower()], int(g[1]))
            return DateFilter(text, start, start + timedelta(days=1))
        if kind == "month_year":
            return DateFilter(text, *_month_range(int(g[1]), MONTHS[g[0].lower()]))
        if kind == "season_year":
            return DateFilter(text, *_season_range(int(g[1]), g[0].lower()))
        if kind == "rel_season":
            return DateFilter(text, *_relative_season(g[0].lower(), g[1].lower(), today))
        if kind == "rel_unit":
            return _relative_unit(text, g[0].lower(), g[1].lower(), today)
        if kind == "day_word":
            day = today - timedelta(days=1 if g[0].lower() == "yesterday" else 0)
            return DateFilter(text, _dt(day), _dt(day) + timedelta(days=1))
        if kind == "year":
            return DateFilter(text, datetime(int(g[0]), 1, 1), datetime(int(g[0]) + 1, 1, 1))
        if kind == "month":
            return DateFilter(text, month=MONTHS[g[0].lower()])
    except ValueError:  # "31 February 2024", "2024-13": not a date, leave the words
        return None
    return None  # pragma: no cover - every kind is handled above


def _relative_unit(text: str, which: str, unit: str, today: date) -> DateFilter:
    back = which in ("last", "past")
    if unit == "week":
        monday = today - timedelta(days=today.weekday())
        start = monday - timedelta(days=7) if back else monday
        return DateFilter(text, _dt(start), _dt(start) + timedelta(days=7))
    if unit == "month":
        year, month = today.year, today.month
        if back:
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return DateFilter(text, *_month_range(year, month))
    year = today.year - 1 if back else today.year
    return DateFilter(text, datetime(year, 1, 1), datetime(year + 1, 1, 1))


def extract_dates(text: str, today: date | None = None) -> tuple[list[DateFilter], str]:
    """The date expressions of ``text`` (most specific pattern first) and the other words."""
    today = today or date.today()
    found: list[DateFilter] = []
    rest = text
    for kind, rx in _COMPILED:
        while True:
            m = rx.search(rest)
            if m is None:
                break
            f = _filter(kind, m, today)
            if f is None:
                # Not a real date: hide it from this pattern only, keep the words.
                rest = rest[: m.start()] + "\x00" * (m.end() - m.start()) + rest[m.end() :]
                continue
            found.append(f)
            rest = rest[: m.start()] + " " + rest[m.end() :]
    # Restore what was hidden; drop the separators left by removed expressions.
    rest = " ".join(rest.split())
    if "\x00" in rest:
        rest = text if not found else rest.replace("\x00", "")
    return found, rest
