"""Prometheus metrics (``GET /metrics``) and the request log, from one pair of request hooks.

prometheus_client (the Prometheus project's own Python client) keeps the counters and
renders the text format; several server processes (gunicorn, ``serve`` on more than one
core) share them through its multiprocess mode: ``web.server`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the processes fork, each process
writes its values to files there, and a scrape of any process sums them all
(``MultiProcessCollector``). prometheus-flask-exporter was not used: it wraps the same
client, and its gunicorn support wants its own set-up in gunicorn's config hooks, for the
two metrics this module defines in a few lines.

The job system's numbers (jobs by kind and status, the queue's depth, items done, items per
second) are read from the catalog at scrape time: the catalog is the truth every web and
worker process shares, so they are right whichever process (or machine) answers, and no
worker needs an HTTP port of its own.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from smartalbum.config import Settings
from smartalbum.logs import REQUEST_LOGGER, requests_logged

log = logging.getLogger(REQUEST_LOGGER)

REQUESTS = Counter(
    "smartalbum_http_requests_total",
    "HTTP requests answered, by endpoint (the route's name), method and status",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "smartalbum_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


class JobsCollector:
    """The job system's gauges and counters, read from the catalog on every scrape."""

    def __init__(self, factory_getter: Any) -> None:
        self.factory_getter = factory_getter

    def collect(self) -> Iterator[Any]:
        from sqlalchemy.exc import SQLAlchemyError

        from smartalbum.jobs.store import job_stats

        factory = self.factory_getter()
        if factory is None:
            return
        try:
            stats = job_stats(factory)
        except SQLAlchemyError:  # the database is down: the request metrics still answer
            return
        jobs = GaugeMetricFamily(
            "smartalbum_jobs", "Background jobs in the catalog, by kind and status",
            labels=["kind", "status"],
        )
        for (kind, status), n in sorted(stats.jobs.items()):
            jobs.add_metric([kind, status], n)
        yield jobs
        yield GaugeMetricFamily(
            "smartalbum_job_queue_depth",
            "Job chunks waiting for a worker (queued, not yet claimed)",
            value=stats.queued_chunks,
        )
        done = CounterMetricFamily(
            "smartalbum_job_items",
            "Items (photos) done by jobs still in the catalog, by kind; rate() = photos/s",
            labels=["kind"],
        )
        for kind, n in sorted(stats.items_done.items()):
            done.add_metric([kind], n)
        yield done
        rate = GaugeMetricFamily(
            "smartalbum_job_items_per_second",
            "Items (photos) per second of the running jobs, by kind",
            labels=["kind"],
        )
        for kind, r in sorted(stats.items_per_s.items()):
            rate.add_metric([kind], r)
        yield rate


EXTENSION_KEY = "smartalbum.metrics"


def _registry(app: Flask) -> CollectorRegistry:
    """This app's registry: every process's values (multiprocess mode) or this process's,
    plus the catalog's job numbers. (Not the global one: it would lack the jobs.)"""
    from smartalbum.web.library_api import EXTENSION_KEY as LIBRARY_KEY

    def factory() -> Any:
        return app.extensions[LIBRARY_KEY].factory

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        for collector in (REQUESTS, LATENCY):
            registry.register(collector)
        from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR

        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            registry.register(collector)
    registry.register(JobsCollector(factory))
    return registry


def install_metrics(app: Flask, settings: Settings) -> None:
    """Count and time every request and log it when asked (``log.requests``); the
    registry :func:`render` serves (``GET /metrics``, web.api) is kept on ``app``."""
    log_requests = requests_logged(settings)
    app.extensions[EXTENSION_KEY] = _registry(app)

    @app.before_request
    def _start() -> None:
        g.smartalbum_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("smartalbum_started", None)
        if started is None:
            return response
        elapsed = time.perf_counter() - started
        endpoint = request.endpoint or "unknown"  # a route's name: a bounded label set
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        LATENCY.labels(endpoint).observe(elapsed)
        if log_requests:
            log.info(
                "%s %s %s %.1f ms",
                request.method,
                request.path,
                response.status_code,
                elapsed * 1000,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "endpoint": endpoint,
                },
            )
        return response



def render(app: Flask) -> Response:
    """The Prometheus text exposition of ``app``'s registry."""
    return Response(generate_latest(app.extensions[EXTENSION_KEY]), mimetype=CONTENT_TYPE_LATEST)
