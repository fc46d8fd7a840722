"""Cloud photo sync through rclone: pull a remote into a local mirror, index it, push back.

rclone (Debian package ``rclone``) speaks to Google Photos, S3, Dropbox, OneDrive, WebDAV,
SFTP and dozens more, with the user's own configured credentials; Smart Album only runs it
as a subprocess, so no cloud SDK or credential ever enters this code (docs/sync.md).
"""

from smartalbum.sync.rclone import (
    BadRemoteError,
    PullResult,
    PushResult,
    Rclone,
    RcloneMissingError,
    RemoteError,
    SyncError,
    mirror_for,
    parse_remote,
)

__all__ = [
    "BadRemoteError",
    "PullResult",
    "PushResult",
    "Rclone",
    "RcloneMissingError",
    "RemoteError",
    "SyncError",
    "mirror_for",
    "parse_remote",
]
