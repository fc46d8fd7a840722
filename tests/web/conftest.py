"""Fixtures for the web tests: apps over the tiny bundle, photos, a live waitress server.

Every app here is built from explicit settings over ``tests/bundles.py``'s tiny bundle,
whose ``colours`` head tells red, green and blue photos apart, so tests can assert real
predictions without the trained default model.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from library.catalogs import BACKENDS, temporary_catalog
from library.photos import Library, make_library
from smartalbum.config import ModelSettings, Settings, WebSettings
from smartalbum.web import create_app
from smartalbum.web.server import make_server

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}

PhotoFactory = Callable[..., bytes]


@pytest.fixture
def make_settings(tiny_bundle_dir: Path, tmp_path: Path) -> Iterator[Callable[..., Settings]]:
    """``make_settings(max_files=2, ...)``: settings with these web fields, tiny bundle.

    The catalog is ``database_url`` when given, else SQLite in the test's data dir (never
    a SMARTALBUM_DATABASE_URL from the environment).
    """

    def make(database_url: str | None = None, **web: Any) -> Settings:
        return Settings(
            data_dir=tmp_path / "data",
            database_url=database_url or f"sqlite:///{tmp_path / 'data' / 'catalog.sqlite3'}",
            model=ModelSettings(bundle=tiny_bundle_dir, threads=1),
            web=WebSettings(**web),
        )

    yield make
    from smartalbum.library import db

    db.dispose_all()  # every app opened a catalog: close its connections


@pytest.fixture
def make_app(make_settings: Callable[..., Settings]) -> Callable[..., Flask]:
    """``make_app(api_key="k", ...)``: a fresh app (own cache, limiter, temp dir)."""

    def make(**web: Any) -> Flask:
        return create_app(make_settings(**web))

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def make_photo(
    colour: str = "red", *, fmt: str = "JPEG", size: tuple[int, int] = (96, 72), seed: int = 0
) -> bytes:
    """A mostly-``colour`` photo with a little noise; different seeds give different bytes."""
    rng = np.random.default_rng(seed)
    w, h = size
    pixels = np.array(COLOURS[colour], dtype=np.int16) + rng.integers(-20, 21, size=(h, w, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="session")
def photo() -> PhotoFactory:
    """``photo("green", fmt="PNG", seed=3)`` -> encoded bytes."""
    return make_photo


def _multipart(*parts: tuple[bytes, str], **fields: str) -> dict[str, Any]:
    return {"file": [(io.BytesIO(data), name) for data, name in parts], **fields}


@pytest.fixture(scope="session")
def multipart() -> Callable[..., dict[str, Any]]:
    """Test-client form data: ``multipart((data, "a.jpg"), (data2, "b.png"), head="strict")``."""
    return _multipart


@pytest.fixture
def start_server(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., str]]:
    """``start_server(api_key="k", database_url=None, ...)`` -> base URL of the real app on
    waitress (as ``smartalbum serve`` runs it) on a free local port; stopped after the test."""
    servers = []

    def start(**web: Any) -> str:
        settings = make_settings(**web)
        server = make_server(create_app(settings), settings, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=server.run, name="waitress", daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.effective_port}"

    yield start
    for server, thread in servers:
        server.close()  # the loop ends once its sockets are gone
        server.task_dispatcher.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def open_page(browser, start_server: Callable[..., str]) -> Iterator[Callable[..., Any]]:
    """``open_page(url, width=1366, height=768, ignore=())`` -> a Chromium page on ``url``.
    After the test, fails on any script error or console error (those containing one of the
    ``ignore`` texts excepted). It depends on ``start_server`` so that the test's live
    servers stop only after its pages are closed: a page still loading when its server
    stopped reported ERR_EMPTY_RESPONSE (an order-dependent failure)."""
    opened = []

    def open_(url: str, width: int = 1366, height: int = 768, ignore: tuple[str, ...] = ()):
        context = browser.new_context(
            reduced_motion="reduce",
            viewport={"width": width, "height": height},
            accept_downloads=True,
        )
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                problems.append(msg.text)
                if msg.type == "error" and not any(text in msg.text for text in ignore)
                else None
            ),
        )
        page.goto(url)
        opened.append((context, problems))
        return page

    yield open_
    for context, problems in opened:
        context.close()
        assert problems == []


@pytest.fixture
def live_server(start_server: Callable[..., str]) -> str:
    """Base URL of a live server with default web settings."""
    return start_server()


# -- headless Chromium (the page's and the gallery's browser tests) ---------------------------

# -- the photo library: a real catalog, indexed from generated photos --------------------------


@pytest.fixture(params=BACKENDS)
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty catalog on SQLite, then on PostgreSQL (skipped locally when unreachable)."""
    with temporary_catalog(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_catalog_url(tmp_path: Path) -> Iterator[str]:
    with temporary_catalog("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def photo_library(tmp_path: Path) -> Library:
    """~20 generated photos (see tests/library/photos.py): red, green and blue ones, two
    exact duplicates, one with EXIF date, camera and GPS in Arezzo, two unreadable files."""
    return make_library(tmp_path / "photos")


@pytest.fixture
def make_library_app(make_settings: Callable[..., Settings]) -> Callable[..., Flask]:
    """``make_library_app(url, **web)``: an app over the catalog at ``url``."""

    def make(url: str, **web: Any) -> Flask:
        return create_app(make_settings(database_url=url, **web))

    return make
