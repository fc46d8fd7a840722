"""PartBuffer: the container Werkzeug writes each uploaded file part into."""

from __future__ import annotations

import io
import os

import pytest

from smartalbum.web.uploads import PartBuffer


def _filled(tmp_path, chunks: list[bytes], max_memory: int = 1024) -> PartBuffer:
    buf = PartBuffer(max_memory, tmp_path)
    for chunk in chunks:
        assert buf.write(chunk) == len(chunk)
    buf.seek(0)
    return buf


def test_small_part_stays_in_memory_and_reads_back_whole(tmp_path) -> None:
    chunks = [os.urandom(100) for _ in range(5)]
    buf = _filled(tmp_path, chunks)
    assert not buf.on_disk
    assert os.listdir(tmp_path) == []
    assert buf.read() == b"".join(chunks)
    assert buf.read() == b""


def test_partial_reads_seek_and_tell(tmp_path) -> None:
    data = bytes(range(256)) * 3
    buf = _filled(tmp_path, [data[:300], data[300:]])
    assert buf.read(10) == data[:10]
    assert buf.tell() == 10
    buf.seek(0)
    assert buf.read(1) == data[:1]
    buf.seek(-5, io.SEEK_END)
    assert buf.read() == data[-5:]


def test_part_over_the_limit_spills_to_an_anonymous_file(tmp_path) -> None:
    chunks = [os.urandom(600), os.urandom(600), os.urandom(600)]
    buf = _filled(tmp_path, chunks, max_memory=1000)
    assert buf.on_disk
    assert os.listdir(tmp_path) == []  # unlinked at creation
    assert os.readlink(f"/proc/self/fd/{buf.fileno()}").startswith(str(tmp_path))
    assert buf.read() == b"".join(chunks)


def test_closed_buffer_refuses_reads(tmp_path) -> None:
    buf = _filled(tmp_path, [b"abc"])
    buf.close()
    assert buf.closed
    with pytest.raises(ValueError):
        buf.read()


def test_werkzeug_file_storage_save_copies_the_part(tmp_path) -> None:
    from werkzeug.datastructures import FileStorage

    data = os.urandom(5000)
    storage = FileStorage(_filled(tmp_path, [data[:2000], data[2000:]], max_memory=10_000))
    out = tmp_path / "saved.bin"
    storage.save(out)
    assert out.read_bytes() == data
