"""Models of web/jobs_api.py: start, list, read and cancel background jobs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from smartalbum.web.models.common import Id, Model, Query

MAX_PATHS = 100
#: Most photos an organize job of a selection may name (the gallery's bulk limit).
MAX_ORGANIZE_IDS = 10_000
STATUSES = ("queued", "running", "done", "failed", "cancelled")
ORGANIZE_MODES = ("copy", "link", "move")
JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]


class JobRequest(BaseModel):
    """A job to start. The built-in kinds take the fields below; a kind a feature registers
    may take others (the view checks each kind's fields)."""

    model_config = ConfigDict(extra="allow")

    kind: str = Field(
        description="index (paths, chunk_size), classify (paths, head), rehead (head), "
        "organize (into, mode, layout, xmp, head, photo_ids), or a kind a feature registers"
    )
    paths: list[str] | None = Field(
        None,
        min_length=1,
        max_length=MAX_PATHS,
        description="absolute folders or files on the server (the workers' shared photo mount)",
    )
    chunk_size: int | None = Field(
        None, ge=1, le=10_000, description="photos per chunk (default: settings)"
    )
    head: str | None = None
    into: str | None = None
    mode: Literal["copy", "link", "move"] | None = None
    layout: str | None = None
    xmp: StrictBool | None = None
    photo_ids: list[Id] | None = Field(
        None,
        min_length=1,
        max_length=MAX_ORGANIZE_IDS,
        description="organize: only these photos (the gallery's selection; default: all)",
    )


class JobListQuery(Query):
    limit: int = Field(50, ge=1, le=200)
    status: JobStatus | None = None


class FailedItem(BaseModel):
    item: str | None = None
    code: str | None = None
    message: str | None = None


class Job(Model):
    id: str = Field(pattern="^[0-9a-f]{32}$")
    kind: str
    status: JobStatus
    params: dict[str, Any] | None = None
    total: int | None = Field(description="items to do (null until planned)")
    done: int = Field(description="items finished (only grows)")
    errors: int = Field(description="items that failed")
    rate: float | None = Field(None, description="items per second since the start")
    eta_s: float | None = Field(
        None, description="seconds left at that rate (null when stalled: no honest estimate)"
    )
    stalled: bool = Field(
        False,
        description="running, but no chunk heartbeated for jobs.stall_after_s seconds "
        "(workers gone or stuck)",
    )
    idle_s: float | None = Field(
        None, description="seconds since the last progress of a running job (null otherwise)"
    )
    message: str | None = None
    result: dict[str, Any] | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    failed_items: list[FailedItem] | None = None


class JobList(Model):
    jobs: list[Job]
