"""The in-memory multipart splitter gives exactly what Werkzeug's parser gives."""

from __future__ import annotations

import io
import os

import pytest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_options_header
from werkzeug.wsgi import LimitedStream

from smartalbum.web.multipart import InMemoryFormDataParser, split_form_data

BOUNDARY = "b0und4ry-x"
CT = f"multipart/form-data; boundary={BOUNDARY}"


def body_of(parts: list[tuple[list[str], bytes]], *, preamble: bytes = b"",
            epilogue: bytes = b"", padding: bytes = b"", eol: bytes = b"\r\n") -> bytes:
    """A multipart body: each part is (header lines, data)."""
    out = [preamble + (eol if preamble else b"")]
    for headers, data in parts:
        out.append(b"--" + BOUNDARY.encode() + padding + eol)
        out.append(b"".join(h.encode() + eol for h in headers) + eol + data + eol)
    out.append(b"--" + BOUNDARY.encode() + b"--" + eol + epilogue)
    return b"".join(out)


def parse(parser_cls: type[FormDataParser], body: bytes, content_type: str = CT, **limits):
    mimetype, options = parse_options_header(content_type)
    stream = LimitedStream(io.BytesIO(body), len(body))
    _, form, files = parser_cls(**limits).parse(stream, mimetype, len(body), options)
    return (
        list(form.items(multi=True)),
        [(k, f.filename, f.content_type, f.read()) for k, f in files.items(multi=True)],
    )


def file_part(name: str, filename: str, data: bytes, ctype: str = "image/jpeg"):
    return ([f'Content-Disposition: form-data; name="{name}"; filename="{filename}"',
             f"Content-Type: {ctype}"], data)


def field_part(name: str, value: bytes, ctype: str | None = None):
    headers = [f'Content-Disposition: form-data; name="{name}"']
    if ctype:
        headers.append(f"Content-Type: {ctype}")
    return (headers, value)


# Data that tries to look like a boundary without being one.
TRICKY = b"\r\n--b0und4ry\r\n--b0und4ry-\r\n\r\n--" + os.urandom(2000) + b"\r\n-"

SHAPES = {
    "one photo": [file_part("file", "a.jpg", os.urandom(300_000))],
    "photos and fields": [
        file_part("file", "a.jpg", os.urandom(5000)),
        field_part("head", b"album6"),
        file_part("file", "b.png", TRICKY, "image/png"),
        field_part("note", "caf\u00e9".encode("latin-1"), "text/plain; charset=iso-8859-1"),
    ],
    "empty file and empty field": [file_part("file", "", b""), field_part("head", b"")],
    "html in the filename": [file_part("file", "<img src=x onerror=alert(1)>.jpg", b"x")],
    "non-ascii filename": [([
        "Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''%C3%A9t%C3%A9.jpg",
    ], b"data")],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_split_parts_match_werkzeug(shape) -> None:
    body = body_of(SHAPES[shape])
    assert split_form_data(body, BOUNDARY.encode()) is not None  # the fast path was taken
    assert parse(InMemoryFormDataParser, body) == parse(FormDataParser, body)


def test_preamble_epilogue_and_padding_are_ignored_as_by_werkzeug() -> None:
    parts = [file_part("file", "a.jpg", b"abc"), field_part("head", b"seed3")]
    body = body_of(parts, preamble=b"this is a preamble", epilogue=b"bye\r\n", padding=b" \t")
    assert split_form_data(body, BOUNDARY.encode()) is not None
    fast = parse(InMemoryFormDataParser, body)
    assert fast == parse(FormDataParser, body)
    assert fast == ([("head", "seed3")], [("file", "a.jpg", "image/jpeg", b"abc")])


@pytest.mark.parametrize(
    "body",
    [
        body_of(SHAPES["photos and fields"], eol=b"\n"),  # bare LF line breaks
        body_of(SHAPES["one photo"])[:-40],  # cut short: no close delimiter
        body_of([(["Content-Type: text/plain"], b"no disposition")]),
        body_of([(['Content-Disposition: form-data; name="a"', " folded"], b"x")]),
        b"garbage without any boundary",
    ],
    ids=["lf", "truncated", "no-disposition", "folded", "garbage"],
)
def test_other_shapes_fall_back_to_werkzeug(body) -> None:
    assert split_form_data(body, BOUNDARY.encode()) is None
    assert parse(InMemoryFormDataParser, body) == parse(FormDataParser, body)


def test_limits_are_werkzeugs() -> None:
    body = body_of([field_part("f", b"x")] * 5)
    with pytest.raises(RequestEntityTooLarge):
        parse(InMemoryFormDataParser, body, max_form_parts=4)
    big_field = body_of([field_part("f", b"x" * 2000)])
    with pytest.raises(RequestEntityTooLarge):
        parse(InMemoryFormDataParser, big_field, max_form_memory_size=1000)
    # file parts are not form memory: the limit does not apply to them
    big_file = body_of([file_part("file", "a.jpg", b"x" * 2000)])
    assert parse(InMemoryFormDataParser, big_file, max_form_memory_size=1000)[1][0][3] == (
        b"x" * 2000
    )


def test_random_data_round_trips() -> None:
    rng = __import__("random").Random(7)
    for _ in range(50):
        datas = [bytes(rng.choice(b"\r\n-b0und4ryx") for _ in range(rng.randrange(0, 200)))
                 for _ in range(rng.randrange(1, 4))]
        body = body_of([file_part("file", f"{i}.jpg", d) for i, d in enumerate(datas)])
        _, files = parse(InMemoryFormDataParser, body)
        assert [f[3] for f in files] == datas
