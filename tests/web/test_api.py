"""The JSON API through Flask's test client: results, the cache, and every error status."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from flask import Flask, request

from smartalbum.config import ImagingSettings
from smartalbum.web import create_app
from smartalbum.web.state import get_state

PROBLEM = "application/problem+json"


def assert_problem(resp, status: int, code: str | None = None) -> dict:
    """A problem document with this status, and nothing that looks like a traceback."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    body = resp.get_json()
    assert body["status"] == status
    assert body["title"] and isinstance(body["detail"], str) and body["type"]
    if code is not None:
        assert body["code"] == code
    text = resp.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    return body


# -- classify ------------------------------------------------------------------------------


def test_classify_one_photo(client, photo, multipart) -> None:
    resp = client.post("/api/v1/classify", data=multipart((photo("red"), "holiday.jpg")))
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.get_json()
    (item,) = body["results"]
    assert item["filename"] == "holiday.jpg"
    assert item["label"] == "red" and item["error"] is None and item["cached"] is False
    assert 0.5 < item["confidence"] <= 1 and item["uncertain"] is False
    assert item["probabilities"]["red"] == item["confidence"]
    assert len(item["sha256"]) == 64
    assert body["model"]["head"] == "colours" and body["model"]["name"] == "tiny-test"
    assert len(body["model"]["version"]) == 16


def test_batch_with_a_bad_file_still_classifies_the_others(client, photo, multipart) -> None:
    resp = client.post(
        "/api/v1/classify",
        data=multipart(
            (photo("green"), "g.jpg"),
            (b"%PDF-1.4 not a photo", "doc.pdf"),
            (photo("blue", fmt="PNG"), "b.png"),
            (b"", "empty.jpg"),
        ),
    )
    assert resp.status_code == 200
    results = resp.get_json()["results"]
    assert [r["label"] for r in results] == ["green", None, "blue", None]
    assert results[1]["error"]["code"] == "not_an_image"
    assert results[3]["error"]["code"] == "empty_file"
    for bad in (results[1], results[3]):
        assert bad["confidence"] is None and bad["probabilities"] is None
        assert "<bytes>" not in bad["error"]["detail"]


def test_a_batch_of_only_bad_files_is_200_with_item_errors(client, multipart) -> None:
    resp = client.post("/api/v1/classify", data=multipart((b"a", "a.txt"), (b"b", "b.txt")))
    assert resp.status_code == 200
    assert [r["error"]["code"] for r in resp.get_json()["results"]] == ["not_an_image"] * 2


def test_a_repeated_photo_is_answered_from_the_cache(client, photo, multipart) -> None:
    data = photo("blue", seed=7)
    first = client.post("/api/v1/classify", data=multipart((data, "a.jpg"))).get_json()
    second = client.post("/api/v1/classify", data=multipart((data, "copy.jpg"))).get_json()
    a, b = first["results"][0], second["results"][0]
    assert a["cached"] is False and b["cached"] is True
    assert b["filename"] == "copy.jpg"
    assert {k: a[k] for k in ("label", "confidence", "probabilities", "sha256")} == {
        k: b[k] for k in ("label", "confidence", "probabilities", "sha256")
    }


def test_the_cache_is_per_head(client, photo, multipart) -> None:
    data = photo("red", seed=8)
    client.post("/api/v1/classify", data=multipart((data, "a.jpg")))
    strict = client.post("/api/v1/classify?head=strict", data=multipart((data, "a.jpg")))
    item = strict.get_json()["results"][0]
    assert strict.get_json()["model"]["head"] == "strict"
    assert item["cached"] is False and item["label"] == "red"
    assert item["uncertain"] is True  # strict's threshold is 0.99


def test_head_as_form_field(client, photo, multipart) -> None:
    resp = client.post("/api/v1/classify", data=multipart((photo("red"), "a.jpg"), head="strict"))
    assert resp.get_json()["model"]["head"] == "strict"


def test_unknown_head_is_400(client, photo, multipart) -> None:
    resp = client.post("/api/v1/classify?head=nope", data=multipart((photo("red"), "a.jpg")))
    body = assert_problem(resp, 400, "unknown_head")
    assert body["available"] == ["colours", "strict"]


# -- single bad files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"hello, this is text", 415, "not_an_image"),
        (b"", 400, "empty_file"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, 415, None),  # a JPEG that is only a header
    ],
)
def test_a_single_unreadable_file_fails_the_request(client, multipart, data, status, code):
    resp = client.post("/api/v1/classify", data=multipart((data, "x.jpg")))
    body = assert_problem(resp, status, code)
    assert body["filename"] == "x.jpg"
    assert body["type"] == f"urn:smartalbum:problem:{body['code']}"


def test_a_single_photo_over_the_pixel_limit_is_413(make_settings, photo, multipart) -> None:
    settings = make_settings()
    settings = settings.model_copy(update={"imaging": ImagingSettings(max_pixels=1000)})
    client = create_app(settings).test_client()
    resp = client.post("/api/v1/classify", data=multipart((photo("red"), "big.jpg")))
    assert_problem(resp, 413, "too_many_pixels")


# -- malformed requests ----------------------------------------------------------------------


def test_no_file_is_400(client, multipart) -> None:
    assert_problem(client.post("/api/v1/classify"), 400, "no_file")
    assert_problem(client.post("/api/v1/classify", data={"other": "x"}), 400, "no_file")
    assert_problem(client.post("/api/v1/classify", json={"file": "x"}), 400, "no_file")
    # what a browser sends for an empty file input
    assert_problem(client.post("/api/v1/classify", data=multipart((b"", ""))), 400, "no_file")


def test_malformed_multipart_is_400(client) -> None:
    resp = client.post(
        "/api/v1/classify",
        data=b"--nope\r\ngarbage",
        content_type="multipart/form-data; boundary=xyz",
    )
    assert_problem(resp, 400, "no_file")


def test_more_than_max_files_is_413(make_app, photo, multipart) -> None:
    client = make_app(max_files=2).test_client()
    parts = [(photo("red", seed=i), f"{i}.jpg") for i in range(3)]
    assert_problem(client.post("/api/v1/classify", data=multipart(*parts)), 413, "too_many_files")
    assert client.post("/api/v1/classify", data=multipart(*parts[:2])).status_code == 200


def test_a_body_over_the_limit_is_413(make_app, multipart) -> None:
    client = make_app(max_upload_mb=0.05).test_client()
    resp = client.post("/api/v1/classify", data=multipart((os.urandom(80_000), "big.jpg")))
    assert_problem(resp, 413)


class ExplodingStream(io.RawIOBase):
    """A request body of ``size`` bytes that must never be read (only measured)."""

    def __init__(self, size: int) -> None:
        self.size, self.pos = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # Werkzeug's test client seeks to the end to measure it
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = self.size + offset if whence == 2 else offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, b) -> int:
        raise AssertionError("the body was read")


def test_the_size_limit_is_checked_before_the_body_is_read(make_app) -> None:
    client = make_app(max_upload_mb=1).test_client()
    resp = client.post(
        "/api/v1/classify",
        input_stream=ExplodingStream(5 * 1024 * 1024),
        content_type="multipart/form-data; boundary=xyz",
    )
    assert_problem(resp, 413)


def test_large_parts_spool_only_into_the_private_upload_dir(app, photo) -> None:
    with app.app_context():
        upload_dir: Path = get_state().upload_dir
    assert stat.S_IMODE(upload_dir.stat().st_mode) == 0o700
    from smartalbum.web.multipart import IN_MEMORY_BODY_MAX

    # bodies up to IN_MEMORY_BODY_MAX are split in memory; past it, parts stream and spool
    big = os.urandom(IN_MEMORY_BODY_MAX + 1024 * 1024)
    with app.test_request_context(
        "/api/v1/classify", method="POST", data={"file": (io.BytesIO(big), "big.jpg")}
    ):
        stream = request.files["file"].stream
        assert stream.on_disk  # spilled to disk, not kept in memory
        assert stream.read() == big
        if os.path.isdir("/proc/self/fd"):
            where = os.readlink(f"/proc/self/fd/{stream.fileno()}")
            assert where.startswith(str(upload_dir))
        assert os.listdir(upload_dir) == []  # anonymous: no name anyone could open
    assert stream.closed  # released with the request


# -- the seed's route -------------------------------------------------------------------------


def test_seed_route_answers_class(client, photo, multipart) -> None:
    resp = client.post("/classify", data=multipart((photo("green"), "g.jpg")))
    assert resp.status_code == 200 and resp.get_json() == {"class": "green"}


def test_seed_route_errors_are_problems(client, photo, multipart) -> None:
    assert_problem(client.post("/classify", data=multipart((b"text", "t.txt"))), 415)
    assert_problem(client.post("/classify"), 400, "no_file")
    two = multipart((photo("red"), "a.jpg"), (photo("blue"), "b.jpg"))
    assert_problem(client.post("/classify", data=two), 400, "one_file_only")


# -- model and probes -------------------------------------------------------------------------


def test_model_describes_bundle_heads_and_limits(client) -> None:
    body = client.get("/api/v1/model").get_json()
    assert body["name"] == "tiny-test" and body["default_head"] == "colours"
    heads = {h["name"]: h for h in body["heads"]}
    assert set(heads) == {"colours", "strict"}
    assert heads["colours"]["labels"] == ["red", "green", "blue"]
    assert heads["colours"]["threshold"] == 0.5 and heads["strict"]["threshold"] == 0.99
    assert heads["colours"]["metrics"] == {"accuracy": 1.0}
    assert body["limits"] == {"max_upload_mb": 64.0, "max_files": 100}
    assert body["backbone"]["embedding_dim"] == 48
    assert body["preprocess"]["size"] == 32


def test_healthz_and_readyz(client) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["model"]["name"] == "tiny-test"


def test_readyz_is_503_when_the_model_cannot_run(app, monkeypatch) -> None:
    with app.app_context():
        engine = get_state().engine

    def broken(*a, **k):
        raise RuntimeError("onnx session gone")

    monkeypatch.setattr(engine, "classify", broken)
    client = app.test_client()
    body = assert_problem(client.get("/readyz"), 503, "not_ready")
    assert "onnx session gone" not in body["detail"]
    assert client.get("/healthz").status_code == 200


def test_an_unexpected_error_is_a_generic_500_without_details(app, photo, multipart, monkeypatch):
    with app.app_context():
        engine = get_state().engine
    monkeypatch.setattr(engine, "classify", lambda *a, **k: 1 / 0)
    resp = app.test_client().post("/api/v1/classify", data=multipart((photo("red"), "a.jpg")))
    body = assert_problem(resp, 500)
    assert "ZeroDivision" not in resp.get_data(as_text=True)
    assert body["title"] == "Internal Server Error"


# -- HTTP errors, auth, limits, headers -------------------------------------------------------


def test_unknown_url_is_a_404_problem(client) -> None:
    assert_problem(client.get("/api/v1/nothing"), 404)


def test_wrong_method_is_a_405_problem_with_allow(client) -> None:
    resp = client.get("/api/v1/classify")
    assert_problem(resp, 405)
    assert "POST" in resp.headers["Allow"]
    assert_problem(client.delete("/api/v1/model"), 405)


def test_api_key_when_configured(make_app, photo, multipart) -> None:
    client = make_app(api_key="s3cret").test_client()
    assert_problem(client.get("/api/v1/model"), 401, "api_key_required")
    assert_problem(client.get("/api/v1/model", headers={"X-API-Key": "wrong"}), 401)
    resp = client.post("/classify", data=multipart((photo("red"), "a.jpg")))
    assert_problem(resp, 401)
    assert client.get("/api/v1/model", headers={"X-API-Key": "s3cret"}).status_code == 200
    ok = client.post(
        "/api/v1/classify", data=multipart((photo("red"), "a.jpg")), headers={"X-API-Key": "s3cret"}
    )
    assert ok.status_code == 200
    # probes, the page and the API description stay open
    for url in ("/healthz", "/readyz", "/", "/api/v1/openapi.json", "/static/app.js"):
        assert client.get(url).status_code == 200, url
    assert_problem(client.get("/nothing"), 404)


def test_rate_limit_is_429_with_retry_after(make_app, photo, multipart) -> None:
    client = make_app(rate_limit="2 per minute").test_client()
    for _ in range(2):
        assert client.get("/api/v1/model").status_code == 200
    resp = client.post("/api/v1/classify", data=multipart((photo("red"), "a.jpg")))
    assert_problem(resp, 429)
    assert int(resp.headers["Retry-After"]) > 0
    for _ in range(3):  # probes are never limited
        assert client.get("/healthz").status_code == 200


def test_rate_limit_can_be_disabled(make_app) -> None:
    client = make_app(rate_limit="").test_client()
    assert all(client.get("/api/v1/model").status_code == 200 for _ in range(5))


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/"),
        ("GET", "/api/v1/model"),
        ("GET", "/static/app.css"),
        ("GET", "/nothing"),
        ("POST", "/api/v1/classify"),
        ("GET", "/healthz"),
    ],
)
def test_security_headers_on_every_response(client, method, url) -> None:
    resp = client.open(url, method=method)
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_the_engine_is_loaded_once_per_app(app: Flask, photo, multipart, monkeypatch) -> None:
    from smartalbum.model import engine as engine_mod

    def fail(*a, **k):
        raise AssertionError("engine loaded during a request")

    monkeypatch.setattr(engine_mod.Engine, "load", fail)
    client = app.test_client()
    for _ in range(2):
        assert (
            client.post("/api/v1/classify", data=multipart((photo("red"), "a.jpg"))).status_code
            == 200
        )
