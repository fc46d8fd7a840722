"""The serve/worker log handler (smartalbum.logs) follows the process's current stderr."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from smartalbum.config import Settings
from smartalbum.logs import StderrHandler, configure_logging


def test_a_closed_stderr_of_an_earlier_caller_is_not_written_to(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """A CLI run under click's CliRunner configured logging on its captured stderr and
    closed it; every later record then printed "--- Logging error ---" into the next
    command's output (three CI failures, depending on the tests' order)."""
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        first = io.StringIO()
        monkeypatch.setattr(sys, "stderr", first)
        configure_logging(Settings(data_dir=tmp_path))
        first.close()
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        logging.getLogger("smartalbum.test").warning("after the first stream closed")
        assert "after the first stream closed" in second.getvalue()
        assert "Logging error" not in second.getvalue()
        configure_logging(Settings(data_dir=tmp_path))  # again: still one handler of ours
        assert sum(isinstance(h, StderrHandler) for h in root.handlers) == 1
    finally:
        root.handlers, root.level = saved[0], saved[1]
