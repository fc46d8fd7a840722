"""Logging of the long-running processes (``serve``, ``worker``): plain lines for a person,
or one JSON object per line (``SMARTALBUM_LOG__FORMAT=json``) for a log collector (Loki,
CloudWatch, Elasticsearch, ``docker logs | jq``).

The JSON lines come from python-json-logger, a maintained formatter for the standard
``logging`` module, so every library's log records (Celery's, gunicorn's, waitress's, ours)
come out in the same shape without changing a single ``log.info`` call: ``time``,
``level``, ``logger``, ``message`` and whatever ``extra=`` a call gave (the request log's
``method``, ``path``, ``status``, ``duration_ms``).
"""

from __future__ import annotations

import logging
import sys

from smartalbum.config import Settings

#: The logger of the one-line-per-request log (web.metrics installs it).
REQUEST_LOGGER = "smartalbum.requests"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def json_formatter() -> logging.Formatter:
    """One JSON object per record: time (ISO 8601, UTC), level, logger, message, extras."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


class StderrHandler(logging.StreamHandler):
    """A stream handler on the process's stderr *as it is when a record is written*: a
    caller that swaps ``sys.stderr`` (click's CliRunner, a test capture) and closes its
    stream must not leave every later record failing with "I/O operation on closed file"."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201 - the stream logging writes to
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # noqa: ANN001 - StreamHandler.__init__ sets it
        pass


def configure_logging(settings: Settings, level: str | None = None) -> None:
    """Send the root logger's records to stderr in the configured format and level.

    Replaces the root's plain stream handlers (this process's logging is ours to set: it
    runs once at the start of ``serve`` or ``worker``), keeping other kinds (a test's
    capture handler); gunicorn's and Celery's loggers propagate here.
    """
    handler = StderrHandler()
    if settings.log.format == "json":
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers = [
        h for h in root.handlers if type(h) not in (logging.StreamHandler, StderrHandler)
    ]
    root.handlers.append(handler)
    root.setLevel((level or settings.log.level).upper())
    if root.level > logging.DEBUG:  # a line per plugin and per migration step at INFO
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if requests_logged(settings):  # asked for: written whatever the level of the rest
        logging.getLogger(REQUEST_LOGGER).setLevel(logging.INFO)


def requests_logged(settings: Settings) -> bool:
    """Whether each HTTP request is logged: the setting, else on in the json format only."""
    if settings.log.requests is not None:
        return settings.log.requests
    return settings.log.format == "json"


def gunicorn_logconfig(settings: Settings) -> dict | None:
    """gunicorn's ``logconfig_dict`` for the json format (None: keep gunicorn's own lines).

    gunicorn configures its loggers itself in every process, with plain-text handlers; this
    gives its error log the JSON handler instead and drops its access log (the request log,
    ``smartalbum.requests``, says the same in the same shape).
    """
    if settings.log.format != "json":
        return None
    loggers: dict = {
        "gunicorn.error": {"level": "WARNING", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    }
    if requests_logged(settings):
        loggers[REQUEST_LOGGER] = {"level": "INFO"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "smartalbum.logs.json_formatter"}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": settings.log.level.upper(), "handlers": ["json"]},
        "loggers": loggers,
    }
