"""Multipart bodies of a few megabytes, split in memory instead of streamed.

Werkzeug's parser streams a body 64 KiB at a time and copies each piece four to six times
(its bytearray buffer, slices of it, the file container) with a Python loop per piece: for
one 4 MB photo that was ~5 ms of the ~23 ms the server spends on a request beside decoding
and the model (docs/benchmarks.md). A body up to ``IN_MEMORY_BODY_MAX`` is held in memory
anyway (web/server.py's WholeBodyReader under gunicorn, waitress's own buffer), so it is
read once and split with ``bytes.find``: one copy per part.

Only the shape browsers, curl and HTTP libraries send is split here (CRLF line breaks, a
Content-Disposition per part, a closing delimiter); :func:`split_form_data` returns None
for anything else and Werkzeug's own parser reads the same bytes, so unusual but valid
bodies still parse and malformed ones get Werkzeug's answer. Limits are Werkzeug's:
``max_form_parts`` and ``max_form_memory_size`` raise 413 as they do there.
"""

from __future__ import annotations

import io
from typing import IO, Any, NamedTuple

from werkzeug.datastructures import FileStorage, Headers, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_options_header

#: Bodies up to this size are read whole: above the page's 24 MB batches (static/app.js),
#: so its uploads take this path too (measured: 4-photo requests 0.79x -> 0.99x the speed of
#: single-photo ones). Werkzeug's streaming path holds parts up to 8 MB in memory anyway.
IN_MEMORY_BODY_MAX = 32 * 1024 * 1024

_CHARSETS = {"ascii", "us-ascii", "utf-8", "iso-8859-1"}  # as Werkzeug accepts for fields


class Part(NamedTuple):
    """One part of a multipart body: its headers and where its data lies in the body."""

    headers: Headers
    name: str
    filename: str | None  # None: a plain form field
    start: int
    end: int


def split_form_data(body: bytes, boundary: bytes) -> list[Part] | None:
    """The parts of a multipart/form-data ``body``, or None when it is not in plain shape."""
    dash = b"--" + boundary
    delimiter = b"\r\n" + dash
    if body.startswith(dash):
        pos = len(dash)
    else:  # a preamble before the first delimiter
        found = body.find(delimiter)
        if found < 0:
            return None
        pos = found + len(delimiter)
    parts: list[Part] = []
    while True:
        if body.startswith(b"--", pos):  # the close delimiter; the epilogue is ignored
            return parts
        line_end = body.find(b"\r\n", pos)
        if line_end < 0 or body[pos:line_end].strip(b" \t"):
            return None  # anything but transport padding after a delimiter
        headers_start = line_end + 2
        if body.startswith(b"\r\n", headers_start):  # a part without headers
            return None
        headers_end = body.find(b"\r\n\r\n", headers_start)
        if headers_end < 0:
            return None
        block = body[headers_start:headers_end]
        if dash in block:  # a part with no blank line: its "headers" run into the next one
            return None
        part = _part_head(block)
        if part is None:
            return None
        data_start = headers_end + 4
        data_end = body.find(delimiter, data_start)
        if data_end < 0:
            return None
        parts.append(Part(*part, start=data_start, end=data_end))
        pos = data_end + len(delimiter)


def _part_head(block: bytes) -> tuple[Headers, str, str | None] | None:
    """A part's headers, name and filename; None when they need Werkzeug's parser."""
    try:
        text = block.decode()
    except UnicodeDecodeError:
        return None
    headers = Headers()
    for line in text.split("\r\n"):
        if line[:1] in (" ", "\t") or ":" not in line or "\r" in line or "\n" in line:
            return None  # folded (obsolete), bare CR/LF or broken header lines
        name, _, value = line.partition(":")
        try:
            headers.add(name.strip(), value.strip())
        except ValueError:
            return None
    disposition = headers.get("content-disposition")
    if disposition is None:
        return None
    _, params = parse_options_header(disposition)
    if "name" not in params:
        return None
    return headers, params["name"], params.get("filename")


class InMemoryFormDataParser(FormDataParser):
    """Werkzeug's form parser, with :func:`split_form_data` for bodies read whole."""

    def parse(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str] | None = None,
    ) -> tuple[IO[bytes], MultiDict[str, Any], MultiDict[str, Any]]:
        boundary = (options or {}).get("boundary", "")
        if (
            mimetype != "multipart/form-data"
            or not boundary
            or content_length is None
            or not 0 < content_length <= IN_MEMORY_BODY_MAX
            or (self.max_content_length is not None and content_length > self.max_content_length)
        ):
            return super().parse(stream, mimetype, content_length, options)
        body = _read_exactly(stream, content_length)
        try:
            parts = split_form_data(body, boundary.encode("ascii"))
        except UnicodeEncodeError:
            parts = None
        if parts is None:
            return super().parse(io.BytesIO(body), mimetype, len(body), options)
        if self.max_form_parts is not None and len(parts) > self.max_form_parts:
            raise RequestEntityTooLarge()
        fields: list[tuple[str, str]] = []
        files: list[tuple[str, FileStorage]] = []
        for part in parts:
            if part.filename is None:
                if self.max_form_memory_size is not None and (
                    part.end - part.start > self.max_form_memory_size
                ):
                    raise RequestEntityTooLarge()
                value = body[part.start : part.end].decode(_charset(part.headers), "replace")
                fields.append((part.name, value))
            else:
                data = io.BytesIO(body[part.start : part.end])
                files.append(
                    (part.name, FileStorage(data, part.filename, part.name, headers=part.headers))
                )
        return stream, self.cls(fields), self.cls(files)


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes (fewer only if the stream ends), in as few reads as it allows."""
    first = stream.read(size)
    if len(first) == size or not first:
        return first
    pieces = [first]
    got = len(first)
    while got < size:
        more = stream.read(size - got)
        if not more:
            break
        pieces.append(more)
        got += len(more)
    return b"".join(pieces)


def _charset(headers: Headers) -> str:
    _, params = parse_options_header(headers.get("content-type", ""))
    charset = params.get("charset", "").lower()
    return charset if charset in _CHARSETS else "utf-8"
