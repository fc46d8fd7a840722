"""Dates in plain words, relative to a fixed today."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from smartalbum.tags.querydates import extract_dates

TODAY = date(2026, 11, 27)  # a Friday


@pytest.mark.parametrize(
    ("text", "start", "end", "rest"),
    [
        ("May 2024", datetime(2024, 5, 1), datetime(2024, 6, 1), ""),
        ("Florence 2023", datetime(2023, 1, 1), datetime(2024, 1, 1), "Florence"),
        ("beach last summer", datetime(2026, 6, 1), datetime(2026, 9, 1), "beach"),
        ("this summer", datetime(2026, 6, 1), datetime(2026, 9, 1), ""),
        ("last winter", datetime(2025, 12, 1), datetime(2026, 3, 1), ""),
        ("summer of 2023 lake", datetime(2023, 6, 1), datetime(2023, 9, 1), "lake"),
        ("winter 2023", datetime(2023, 12, 1), datetime(2024, 3, 1), ""),
        ("yesterday", datetime(2026, 11, 26), datetime(2026, 11, 27), ""),
        ("today", datetime(2026, 11, 27), datetime(2026, 11, 28), ""),
        ("24 May 2024", datetime(2024, 5, 24), datetime(2024, 5, 25), ""),
        ("May 24, 2024 cake", datetime(2024, 5, 24), datetime(2024, 5, 25), "cake"),
        ("2024-05-24", datetime(2024, 5, 24), datetime(2024, 5, 25), ""),
        ("photos 2024-05", datetime(2024, 5, 1), datetime(2024, 6, 1), "photos"),
        ("last year", datetime(2025, 1, 1), datetime(2026, 1, 1), ""),
        ("this year", datetime(2026, 1, 1), datetime(2027, 1, 1), ""),
        ("last month", datetime(2026, 10, 1), datetime(2026, 11, 1), ""),
        ("last week", datetime(2026, 11, 16), datetime(2026, 11, 23), ""),
        ("dog in Dec 2025", datetime(2025, 12, 1), datetime(2026, 1, 1), "dog in"),
    ],
)
def test_ranges(text, start, end, rest):
    (found,), left = extract_dates(text, TODAY)
    assert (found.start, found.end, left) == (start, end, rest)
    assert found.matches(start) and not found.matches(end)


def test_last_summer_during_summer_means_the_year_before():
    (found,), _ = extract_dates("last summer", date(2026, 7, 10))
    assert (found.start, found.end) == (datetime(2025, 6, 1), datetime(2025, 9, 1))


def test_month_without_year_means_that_month_of_any_year():
    (found,), rest = extract_dates("cake in May", TODAY)
    assert found.month == 5 and rest == "cake"
    assert found.matches(datetime(2019, 5, 3)) and not found.matches(datetime(2019, 6, 3))
    assert found.describe() == "taken in May"
    assert not found.matches(None)


@pytest.mark.parametrize("text", ["Anna at the lake", "summer", "31 February 2024 dog", "mayo"])
def test_words_that_are_not_dates_stay(text):
    found, rest = extract_dates(text, TODAY)
    assert found == [] and rest == text
