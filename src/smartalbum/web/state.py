"""What one app holds for its whole life: settings, the engine, the result cache.

Built once in :func:`smartalbum.web.create_app` and shared by every request thread, so the
model is loaded once per process, never per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from smartalbum.config import Settings
from smartalbum.model.engine import Engine
from smartalbum.web.cache import ResultCache

EXTENSION_KEY = "smartalbum"


@dataclass
class WebState:
    settings: Settings
    engine: Engine
    cache: ResultCache
    default_head: str
    upload_dir: Path


def get_state() -> WebState:
    """The current app's state (inside a request or app context)."""
    return current_app.extensions[EXTENSION_KEY]
