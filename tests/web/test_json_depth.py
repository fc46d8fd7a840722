"""Deeply nested JSON is refused with a 400 problem before anything parses it (it was a 500:
~1,000 levels exhaust the parsers' recursion)."""

from __future__ import annotations

import io

import pytest

from smartalbum.web.security import MAX_JSON_DEPTH, json_depth

DEEP = b"[" * 990 + b"]" * 990


def test_json_depth_counts_brackets_outside_strings() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[[{{"}]}') == 3
    assert json_depth(b'"escaped \\" [ quote"') == 0
    assert json_depth(DEEP) == 990


@pytest.mark.parametrize(
    "path",
    ["/api/v1/jobs", "/api/v1/categories", "/api/v1/people/scan", "/api/v1/retrain"],
)
def test_nested_json_bodies_are_400(client, path: str) -> None:
    resp = client.post(path, data=b'{"x": ' + DEEP + b"}", content_type="application/json")
    assert resp.status_code == 400, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == "bad_parameter" and str(MAX_JSON_DEPTH) in body["detail"]


def test_a_nested_category_file_is_400(client) -> None:
    resp = client.post(
        "/api/v1/categories/import",
        data={"file": (io.BytesIO(DEEP), "cat.json")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["parameter"] == "file"


def test_ordinary_json_still_reaches_the_views(client) -> None:
    resp = client.post("/api/v1/jobs", json={"kind": "no-such-kind"})
    assert resp.status_code == 400 and "deeper" not in resp.get_json()["detail"]
