"""Fixtures for the job tests: settings over a real catalog (both backends), an eager app."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from library.catalogs import BACKENDS, temporary_catalog
from library.photos import Library, make_library
from smartalbum.config import Settings
from smartalbum.library import db


@pytest.fixture(params=BACKENDS)
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with temporary_catalog(request.param, tmp_path) as url:
        yield url


def job_settings(data_dir: Path, url: str, bundle: Path, **jobs) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        model={"bundle": bundle, "batch_size": 4},
        jobs={"chunk_size": 5, **jobs},
    )


@pytest.fixture
def settings(tmp_path: Path, catalog_url: str, tiny_bundle_dir: Path) -> Settings:
    return job_settings(tmp_path / "data", catalog_url, tiny_bundle_dir)


@pytest.fixture
def factory(settings: Settings):
    return db.open_catalog(settings)[1]


@pytest.fixture
def eager_app(settings: Settings):
    """The Celery app with tasks run inline (the broker is never touched)."""
    from smartalbum.jobs.app import make_celery, reset

    app = make_celery(settings)
    app.conf.task_always_eager = True
    yield app
    reset()


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return make_library(tmp_path / "photos")


def require_redis(url: str) -> None:
    """Skip (locally) or fail (CI=true) without Redis on 127.0.0.1:6379; flush ``url``'s db."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not running on 127.0.0.1:6379 (.ci/run starts it)")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    import redis

    redis.Redis.from_url(url).flushdb()
