"""``GET /api/v1/model/mobile`` (+ ``/manifest``): the running model as a mobile bundle."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from smartalbum.config import Settings
from smartalbum.web import create_app
from smartalbum.web.state import EXTENSION_KEY


def _app(app_settings: Callable[..., Settings], **web) -> Flask:
    return create_app(app_settings(web=web))


def test_download_zip_with_etag(app_settings, tmp_path: Path) -> None:
    app = _app(app_settings)
    client = app.test_client()
    resp = client.get("/api/v1/model/mobile")
    assert resp.status_code == 200
    assert resp.mimetype == "application/zip"
    etag = resp.headers["ETag"].strip('"')
    assert etag == app.extensions[EXTENSION_KEY].engine.version
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("smartalbum-mobile/mobile.json"))
        for name, info in manifest["files"].items():
            data = z.read(f"smartalbum-mobile/{name}")
            assert hashlib.sha256(data).hexdigest() == info["sha256"]
    assert {"smartalbum-mobile/backbone.ort", "smartalbum-mobile/reference.py"} <= names
    assert manifest["source_bundle"]["version"] == etag

    again = client.get("/api/v1/model/mobile", headers={"If-None-Match": f'"{etag}"'})
    assert again.status_code == 304 and not again.data
    # cached on disk: built once
    assert len(list((tmp_path / "data" / "mobile").glob("*.zip"))) == 1

    meta = client.get("/api/v1/model/mobile/manifest")
    assert meta.status_code == 200
    assert meta.get_json()["files"] == manifest["files"]


def test_api_key_guards_the_download(app_settings) -> None:
    client = _app(app_settings, api_key="k").test_client()
    resp = client.get("/api/v1/model/mobile")
    assert resp.status_code == 401
    assert resp.mimetype == "application/problem+json"
    assert client.get("/api/v1/model/mobile", headers={"X-API-Key": "k"}).status_code == 200


def test_unwritable_data_dir_is_a_problem(app_settings, tmp_path: Path) -> None:
    app = _app(app_settings)
    (tmp_path / "data" / "mobile").write_text("a file where the folder should be")
    resp = app.test_client().get("/api/v1/model/mobile")
    assert resp.status_code == 503
    assert resp.get_json()["code"] == "mobile_export_failed"
