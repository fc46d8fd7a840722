"""What faces do after indexing (registered with ``library.hooks``; loaded by
``smartalbum.features``): group the faces of the indexed folders.

A face scan costs seconds per photo (dlib at 3,072 px), far more than indexing, so it is
never run inline. When an index is done (``SMARTALBUM_FACES__AUTO_SCAN``, and faces
enabled):

- a background index job queues a ``faces`` job for its folders (the workers run it);
- ``smartalbum index`` that embedded new photos queues the same job when workers are
  configured (an external broker, ``SMARTALBUM_BROKER_URL``, and the workers' catalog),
  and otherwise leaves a one-line hint to run ``smartalbum faces scan``: an index in a
  terminal must not start minutes of face detection by itself.
"""

from __future__ import annotations

import logging

from smartalbum.library.hooks import IndexedPhotos, after_index

log = logging.getLogger(__name__)

HINT = "faces: run `smartalbum faces scan` to group the faces of the new photos"


@after_index
def scan_indexed_folders(event: IndexedPhotos) -> None:
    """Queue a face scan of the indexed folders, or say how to run one."""
    faces = getattr(event.settings, "faces", None)
    if not event.final or faces is None or not faces.enabled or not faces.auto_scan:
        return
    if event.in_job:
        _queue_scan(event)
    elif event.photo_ids:
        if _workers_share(event):
            job_id = _queue_scan(event)
            if job_id is not None:
                event.note(f"faces: scan of the new photos queued as job {job_id}")
                return
        event.note(HINT)


def _workers_share(event: IndexedPhotos) -> bool:
    """Whether workers take jobs on this catalog: an external broker is configured (the
    embedded one has workers only when someone started them) and the run's catalog is
    the configured one, the catalog the workers read."""
    from smartalbum.library.db import get_engine

    if not event.settings.broker_url:
        return False
    return event.factory.kw.get("bind") is get_engine(event.settings)


def _queue_scan(event: IndexedPhotos) -> str | None:
    """Submit a ``faces`` job for the event's folders; its id, or None when it failed
    (the index is done either way; a scan can be started by hand)."""
    from smartalbum.jobs.submit import submit_job

    try:
        from smartalbum.faces.jobs import SCAN_KIND
    except ImportError as exc:  # face detection is not installed here: no scan to queue
        log.debug("no face scan after indexing: %s", exc)
        return None
    try:
        return submit_job(event.settings, event.factory, SCAN_KIND, {"paths": list(event.roots)})
    except Exception:  # noqa: BLE001 - never fail a finished index
        what = f"index job {event.job_id}" if event.job_id else "indexing"
        log.exception("could not queue the face scan after %s", what)
        return None
