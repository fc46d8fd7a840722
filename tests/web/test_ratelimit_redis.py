"""Rate limits shared through Redis: two app processes (here: two app instances) that
point at the same Redis count against one budget, as behind a load balancer."""

from __future__ import annotations

import os
import socket

import pytest
from test_api import assert_problem

pytestmark = pytest.mark.services

REDIS = ("127.0.0.1", 6379)
REDIS_URL = "redis://127.0.0.1:6379/15"  # a database of its own, flushed by the test


def _redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_db():
    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not running on 127.0.0.1:6379 (.ci/run starts it)")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()


def test_two_instances_share_one_budget_in_redis(make_app, redis_db) -> None:
    first = make_app(rate_limit="3 per minute", rate_limit_storage=REDIS_URL).test_client()
    second = make_app(rate_limit="3 per minute", rate_limit_storage=REDIS_URL).test_client()
    assert first.get("/api/v1/model").status_code == 200
    assert second.get("/api/v1/model").status_code == 200
    assert first.get("/api/v1/model").status_code == 200
    assert_problem(second.get("/api/v1/model"), 429)  # the 4th request overall
    assert redis_db.dbsize() > 0  # the counters really live in Redis
