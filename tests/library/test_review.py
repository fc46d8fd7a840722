"""The review list: uncertain (unless corrected), blurry, badly exposed; nothing else."""

from __future__ import annotations

import pytest

from library.records import prediction, record
from smartalbum.imaging.quality import BLUR_THRESHOLD
from smartalbum.library.review import review_list, review_reasons


def _photos():
    return [
        record(
            id=1,
            paths=["/p/1.jpg"],
            prediction=prediction("people", 0.95),
            blur=500.0,
            exposure_verdict="ok",
        ),
        record(
            id=2,
            paths=["/p/2.jpg"],
            prediction=prediction("people", 0.41, uncertain=True),
            blur=500.0,
            exposure_verdict="ok",
        ),
        record(
            id=3,
            paths=["/p/3.jpg"],
            prediction=prediction("pets", 0.40, uncertain=True),
            correction="food",
            blur=500.0,
            exposure_verdict="ok",
        ),
        record(
            id=4,
            paths=["/p/4.jpg"],
            prediction=prediction("landscape", 0.9),
            blur=BLUR_THRESHOLD - 1,
            exposure_verdict="ok",
        ),
        record(
            id=5,
            paths=["/p/5.jpg"],
            prediction=prediction("landscape", 0.9),
            blur=400.0,
            exposure_verdict="under",
        ),
        record(
            id=6,
            paths=["/p/6.jpg"],
            prediction=prediction("food", 0.3, uncertain=True),
            blur=10.0,
            exposure_verdict="over",
        ),
        record(id=7, paths=["/p/7.jpg"], blur=None, exposure_verdict=None),  # never analysed
        record(
            id=8,
            paths=["/p/8.jpg"],
            correction="people",
            blur=BLUR_THRESHOLD,
            exposure_verdict="ok",
        ),  # exactly at the threshold is not blurry
    ]


def test_reasons_per_photo() -> None:
    got = {p.id: review_reasons(p) for p in _photos()}
    assert got == {
        1: [],
        2: ["uncertain"],
        3: [],  # corrected: the user settled it
        4: ["blurry"],
        5: ["exposure"],
        6: ["uncertain", "blurry", "exposure"],
        7: [],
        8: [],
    }


def test_review_list_filters_by_reason_and_keeps_details() -> None:
    items = review_list(_photos())
    assert [i.photo_id for i in items] == [2, 4, 5, 6]
    by_id = {i.photo_id: i for i in items}
    assert by_id[2].label == "people" and by_id[2].confidence == pytest.approx(0.41)
    assert by_id[6].to_dict()["reasons"] == ["uncertain", "blurry", "exposure"]
    assert [i.photo_id for i in review_list(_photos(), reasons=["blurry"])] == [4, 6]
    assert [i.photo_id for i in review_list(_photos(), reasons={"exposure"})] == [5, 6]
    assert [i.reasons for i in review_list(_photos(), reasons=["uncertain"])] == [
        ("uncertain",),
        ("uncertain",),
    ]


def test_blur_threshold_is_configurable_and_reasons_validated() -> None:
    assert [i.photo_id for i in review_list(_photos(), reasons=["blurry"], blur_threshold=450)] == [
        4,
        5,
        6,
        8,
    ]
    with pytest.raises(ValueError, match="unknown review reason"):
        review_list(_photos(), reasons=["ugly"])


def test_corrected_blurry_photo_stays_on_the_list_for_blur_only() -> None:
    photo = record(
        id=9,
        prediction=prediction("pets", 0.2, uncertain=True),
        correction="pets",
        blur=5.0,
        paths=["/p/9.jpg"],
    )
    [item] = review_list([photo])
    assert item.reasons == ("blurry",)
    assert item.label == "pets" and item.confidence is None
