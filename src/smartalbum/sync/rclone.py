"""A small, typed wrapper around the ``rclone`` command for pulling and pushing photos.

Why a subprocess and not a library: rclone already knows every storage service and keeps
the user's credentials in its own config (``rclone config``); running it keeps Smart Album
free of cloud SDKs and secrets. Everything goes through :class:`Rclone`, which:

* only ever runs ``rclone copy`` (never ``sync``/``move``/``delete``): a pull adds and updates
  files in the mirror and never deletes one, even when it disappeared from the remote;
* copies photo files only (a case-insensitive include filter built from the extensions
  Smart Album decodes), so a Drive full of documents does not fill the disk;
* is incremental by rclone's own comparison (size and modification time), so a second pull
  transfers nothing when nothing changed;
* reads rclone's JSON log (``--use-json-log``) to report progress and the files copied, and
  turns failures into typed errors: :class:`RcloneMissingError` (not installed),
  :class:`BadRemoteError` (malformed ``REMOTE:PATH``), :class:`RemoteError` (rclone failed:
  unknown remote, unreachable server, bad credentials, missing folder).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from smartalbum.errors import SmartAlbumError
from smartalbum.imaging.files import IMAGE_EXTENSIONS

#: rclone exit codes that mean "the source is not there" (directory / file not found).
_NOT_FOUND = {3, 4}
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_TIMESTAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ")


class SyncError(SmartAlbumError):
    """Base of sync errors; ``exit_code`` is what the CLI exits with."""

    code = "sync_failed"
    title = "Sync failed"
    status = 502
    exit_code = 1


class RcloneMissingError(SyncError):
    """The rclone executable is not installed (or not where the settings say)."""

    exit_code = 3


class BadRemoteError(SyncError):
    """The ``REMOTE:PATH`` argument is malformed."""

    exit_code = 2


class RemoteError(SyncError):
    """rclone ran but failed: unknown remote, unreachable, refused credentials, no such path."""

    exit_code = 4

    def __init__(self, message: str, *, returncode: int | None = None, log: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.log = log


@dataclass(frozen=True)
class Remote:
    """A parsed ``REMOTE:PATH``: the remote's name (or ``:backend,opts`` spec) and a path."""

    name: str
    path: str

    def __str__(self) -> str:
        return f"{self.name}:{self.path}"


def parse_remote(spec: str) -> Remote:
    """Split ``REMOTE:PATH`` (``photos:2024``, ``s3:bucket/dir``, ``:webdav,url=...:dir``).

    A bare local path is refused: sync is for remotes; local folders are indexed directly.
    """
    spec = spec.strip()
    if spec.startswith(":"):  # on-the-fly remote ":backend,key=value:path"
        head, sep, path = spec[1:].partition(":")
        # ":webdav,url='http://h:1':dir" -> the url's own colons are inside quotes
        if "'" in spec or '"' in spec:
            m = re.match(r"^(:[^:'\"]*(?:(?:'[^']*'|\"[^\"]*\")[^:'\"]*)*):(.*)$", spec)
            if m:
                return Remote(m.group(1), m.group(2))
        if not sep or not head:
            raise BadRemoteError(f"{spec!r}: expected :BACKEND[,OPTIONS]:PATH")
        return Remote(":" + head, path)
    name, sep, path = spec.partition(":")
    if not sep or not name or "/" in name or "\\" in name or (len(name) == 1 and os.name == "nt"):
        raise BadRemoteError(
            f"{spec!r} is not REMOTE:PATH (configure a remote with `rclone config`, then "
            "e.g. `smartalbum sync gphotos:media/all`); to index a local folder use "
            "`smartalbum index`"
        )
    return Remote(name, path)


def mirror_for(remote: Remote, mirror_root: Path) -> Path:
    """The local mirror folder of a remote path: ``ROOT/<remote>/<path>``, made safe."""
    parts = [_SAFE.sub("_", remote.name.lstrip(":")).strip("._") or "remote"]
    for part in remote.path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise BadRemoteError(f"{remote}: '..' is not allowed in the remote path")
        parts.append(_SAFE.sub("_", part))
    return Path(mirror_root).joinpath(*parts)


def photo_filters() -> list[str]:
    """rclone filter flags that let only photo files through (case-insensitively)."""
    exts = ",".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
    return [
        "--ignore-case",
        "--filter",
        "- .*",
        "--filter",
        "- .*/**",
        "--filter",
        f"+ *.{{{exts}}}",
        "--filter",
        "- *",
    ]


@dataclass
class Progress:
    """rclone's running totals (from its periodic stats)."""

    bytes: int = 0
    total_bytes: int = 0
    transfers: int = 0
    total_transfers: int = 0
    errors: int = 0


@dataclass
class PullResult:
    """What a pull did. ``copied`` are paths relative to the mirror (would-be, on dry run)."""

    remote: str
    mirror: Path
    copied: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    bytes: int = 0
    dry_run: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mirror"] = str(self.mirror)
        return d


@dataclass
class PushResult:
    """What a push of an organised copy did."""

    source: Path
    dest: str
    copied: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["source"] = str(self.source)
        return d


ProgressCallback = Callable[[Progress], None]


class Rclone:
    """How to run rclone: executable, config file, parallelism."""

    def __init__(
        self, binary: str = "rclone", *, config: Path | None = None, transfers: int = 4
    ) -> None:
        found = shutil.which(binary)
        if found is None:
            raise RcloneMissingError(
                f"rclone was not found ({binary!r}); install it (Debian/Ubuntu: "
                "`apt-get install rclone`, others: https://rclone.org/install/) or set "
                "SMARTALBUM_SYNC__RCLONE to its path"
            )
        self.binary = found
        self.config = config
        self.transfers = transfers

    @classmethod
    def from_settings(cls) -> Rclone:
        from smartalbum.config import get_settings

        s = get_settings().sync
        return cls(s.rclone, config=s.rclone_config, transfers=s.transfers)

    def version(self) -> str:
        out = subprocess.run(
            [self.binary, "version"], capture_output=True, text=True, timeout=30, check=False
        )
        return (out.stdout.splitlines() or ["rclone ?"])[0].strip()

    # ------------------------------------------------------------------ operations

    def pull(
        self,
        remote: Remote | str,
        mirror: Path,
        *,
        dry_run: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> PullResult:
        """Copy new and changed photos from ``remote`` into ``mirror``; never delete."""
        remote = parse_remote(remote) if isinstance(remote, str) else remote
        result = PullResult(remote=str(remote), mirror=mirror, dry_run=dry_run)
        start = time.perf_counter()
        # rclone creates the mirror itself, so a failed pull leaves no empty folder behind.
        events = self._copy(str(remote), str(mirror), photo_filters(), dry_run, on_progress)
        if not dry_run:
            mirror.mkdir(parents=True, exist_ok=True)  # even when the remote had no photos
        for ev in events:
            _collect(ev, result.copied, result.replaced)
            if isinstance(ev.get("stats"), dict):
                result.bytes = int(ev["stats"].get("bytes", result.bytes))
        result.seconds = time.perf_counter() - start
        return result

    def push(
        self,
        source: Path,
        dest: Remote | str,
        *,
        dry_run: bool = False,
        exclude: Iterable[str] = (),
        on_progress: ProgressCallback | None = None,
    ) -> PushResult:
        """Copy the folder ``source`` to ``dest`` (new and changed files; never deletes)."""
        dest = parse_remote(dest) if isinstance(dest, str) else dest
        flags = [arg for pattern in exclude for arg in ("--exclude", pattern)]
        # Organised folders hold hard links or symlinks; upload what they point to.
        flags.append("--copy-links")
        result = PushResult(source=source, dest=str(dest), dry_run=dry_run)
        start = time.perf_counter()
        for ev in self._copy(str(source), str(dest), flags, dry_run, on_progress):
            _collect(ev, result.copied, result.copied)
        result.seconds = time.perf_counter() - start
        return result

    def _copy(
        self,
        src: str,
        dst: str,
        flags: list[str],
        dry_run: bool,
        on_progress: ProgressCallback | None,
    ) -> list[dict[str, Any]]:
        args = [
            self.binary,
            "copy",
            src,
            dst,
            *flags,
            "--use-json-log",
            "-v",
            "--stats",
            "500ms",
            "--transfers",
            str(self.transfers),
            "--retries",
            "2",
            "--low-level-retries",
            "3",
        ]
        if dry_run:
            args.append("--dry-run")
        return self._run(args, on_progress)

    def _run(self, args: list[str], on_progress: ProgressCallback | None) -> list[dict[str, Any]]:
        env = dict(os.environ)
        if self.config is not None:
            env["RCLONE_CONFIG"] = str(self.config)
        try:
            proc = subprocess.Popen(
                args,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise RcloneMissingError(f"cannot run {self.binary}: {exc}") from exc
        events: list[dict[str, Any]] = []
        lines: list[str] = []
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                lines.append(line)
                ev = _parse_line(line)
                if ev is None:
                    continue
                events.append(ev)
                stats = ev.get("stats")
                if on_progress is not None and isinstance(stats, dict):
                    on_progress(
                        Progress(
                            bytes=int(stats.get("bytes", 0)),
                            total_bytes=int(stats.get("totalBytes", 0)),
                            transfers=int(stats.get("transfers", 0)),
                            total_transfers=int(stats.get("totalTransfers", 0)),
                            errors=int(stats.get("errors", 0)),
                        )
                    )
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if code != 0:
            plain = [_TIMESTAMP.sub("", x).strip() for x in lines if not x.lstrip().startswith("{")]
            raise RemoteError(
                _failure_message(args, code, events, [x for x in plain if x]),
                returncode=code,
                log="".join(lines[-50:]),
            )
        return events


def _parse_line(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        ev = json.loads(line)
    except json.JSONDecodeError:
        return None
    return ev if isinstance(ev, dict) else None


def _collect(ev: dict[str, Any], copied: list[str], replaced: list[str]) -> None:
    """File events of rclone's log: "Copied (new)", "Copied (replaced existing)", dry run."""
    msg, obj = str(ev.get("msg", "")), ev.get("object")
    if not obj:
        return
    if msg.startswith("Copied (new)") or msg.startswith("Skipped copy as --dry-run"):
        copied.append(str(obj))
    elif msg.startswith("Copied (replaced"):
        replaced.append(str(obj))


def _failure_message(
    args: list[str], code: int, events: list[dict[str, Any]], plain: list[str]
) -> str:
    """The most telling line of rclone's output: its last error (JSON log), else its last
    plain line (rclone prints fatal start-up errors, such as an unknown remote, unformatted)."""
    errors = [
        str(e.get("msg", "")).strip()
        for e in events
        if e.get("level") in ("error", "critical", "fatal") and e.get("msg")
    ]
    errors += plain
    what = f"rclone {args[1]} {args[2]} -> {args[3]}"
    reason = errors[-1] if errors else f"exit code {code}"
    if code in _NOT_FOUND:
        reason = "no such folder or file on the remote" + (f" ({reason})" if errors else "")
    return f"{what} failed: {reason}"
