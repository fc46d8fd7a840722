"""Serve the mobile bundle of the loaded model, so an app fetches its model from *your* server.

``GET /api/v1/model/mobile`` answers a zip of the mobile bundle (``export --mobile``) of the
bundle the server runs, with the bundle version as ETag: an app keeps its copy and asks with
``If-None-Match`` to learn, for a few bytes, whether the model changed.
``GET /api/v1/model/mobile/manifest`` answers the bundle's ``mobile.json`` (versions, file
digests and sizes) for the same purpose without a download.

The zip is built on first request (well under a second) and kept in
``DATA_DIR/mobile/<version>.zip``; building happens once per process at a time, and the
file is written under a temporary name and renamed, so concurrent server processes never
serve a half-written zip.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import zipfile
from pathlib import Path

from flask import Blueprint, Response, jsonify, send_file

from smartalbum.mobile.export import MobileExportError, export_mobile
from smartalbum.web.contract import api, responses
from smartalbum.web.models.mobile import MobileManifest, MobileZip
from smartalbum.web.problems import ProblemError
from smartalbum.web.state import WebState, get_state

bp = Blueprint("mobile_api", __name__)
_build_lock = threading.Lock()


def mobile_zip(state: WebState) -> Path:
    """The cached zip of the loaded bundle's mobile export (built when missing)."""
    version = state.engine.version
    target = state.settings.data_dir / "mobile" / f"smartalbum-mobile-{version}.zip"
    if target.is_file():
        return target
    with _build_lock:
        if target.is_file():
            return target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
                out = Path(tmp) / "bundle"
                export_mobile(out, state.engine.bundle.path)
                partial = Path(tmp) / "bundle.zip"
                with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
                    for path in sorted(out.iterdir()):
                        z.write(path, f"smartalbum-mobile/{path.name}")
                os.replace(partial, target)
        except (MobileExportError, OSError) as exc:
            raise ProblemError(
                503,
                "Mobile bundle unavailable",
                f"the mobile bundle cannot be built: {exc}",
                code="mobile_export_failed",
            ) from exc
    return target


@bp.get("/api/v1/model/mobile")
@api.validate(
    resp=responses(
        {
            200: (MobileZip, "The zip"),
            304: (None, "Not modified (If-None-Match matched the ETag)"),
        },
        [503],
    ),
    operation_id="mobileBundle",
)
def mobile_bundle() -> Response:
    """The loaded model as a mobile bundle (zip); see docs/mobile.md

    The zip holds the ORT model, heads, preprocessing and a reference program. ETag = the
    bundle version; 304 for a matching If-None-Match.
    """
    state = get_state()
    path = mobile_zip(state)
    resp = send_file(
        path,
        mimetype="application/zip",
        as_attachment=True,
        download_name=path.name,
        etag=state.engine.version,
        conditional=True,
        max_age=0,
    )
    resp.headers["Cache-Control"] = "no-cache"  # revalidate with the ETag every time
    return resp


@bp.get("/api/v1/model/mobile/manifest")
@api.validate(
    resp=responses({200: (MobileManifest, "The manifest")}, [503]),
    operation_id="mobileManifest",
)
def mobile_manifest() -> Response:
    """mobile.json of the mobile bundle: versions, file sizes and digests"""
    state = get_state()
    with zipfile.ZipFile(mobile_zip(state)) as z:
        manifest = json.loads(z.read("smartalbum-mobile/mobile.json"))
    resp = jsonify(manifest)
    resp.set_etag(state.engine.version)
    return resp
