#!/usr/bin/env python3
"""Screenshots of every page of the web app, to look at before calling a change done.

It builds a small real library in a temporary data dir (about 60 photos from
``../shared/data/wild`` and ``train_pool``, indexed, scanned for faces, with one category
taught from examples), serves it on a free local port, and with Playwright + Debian's
Chromium captures every HTML page the app has (found in Flask's url_map, not listed by hand:
a new page is captured without touching this script) at 1366×768 (desktop) and 390×844
(phone), light and dark, in English and Chinese, into
``docs/img/<page>-<desktop|phone>-<light|dark>-<en|zh>.png``.

It also reports, per page, the script errors and failed requests the browser saw, and exits 1
when there were any. Run from the repository root::

    PYTHONPATH=src .venv/bin/python scripts/screenshots.py [--pages gallery,people] [--full]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"

SIZES = {"desktop": (1366, 768), "phone": (390, 844)}
SCHEMES = ("light", "dark")
LANGUAGES = {"en": "en-US", "zh": "zh-CN"}

#: How many photos of each folder the demo library takes (wild/<class>, then train_pool).
PICK = {
    "wild/people": 12, "wild/landscape": 8, "wild/architecture": 7, "wild/food": 6,
    "wild/pets": 6, "wild/documents": 4, "wild/none": 5,
    "train_pool/landscape": 4, "train_pool/food": 4, "train_pool/pets": 4,
}
CATEGORY = "Mountains and sea"

#: Short names for the pages whose URL alone does not say it well.
ALIASES = {"ui.index": "classify", "gallery.browse": "gallery", "gallery.photo": "photo",
           "gallery.review": "review", "gallery.duplicates": "duplicates", "gallery.trips": "trips",
           "faces_api.people_page": "people", "faces_api.person_page": "person",
           "categories_api.page": "categories", "categories_api.category_page": "category",
           "jobs_api.page": "jobs", "search_api.page": "search"}
#: Routes that are not pages a person looks at.
SKIP_PREFIXES = ("/api/", "/static/", "/lang/", "/healthz", "/readyz", "/classify", "/metrics")


@dataclass
class Page:
    name: str
    path: str


@dataclass
class Report:
    shots: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)


def cli(env: dict[str, str], *args: str) -> str:
    """One ``smartalbum`` command on the demo data dir (as a user would run it)."""
    done = subprocess.run(
        [sys.executable, "-m", "smartalbum.cli", *args],
        env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode not in (0, 1):  # 1: some file could not be read, the rest is there
        raise SystemExit(f"smartalbum {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def build_library(data_dir: Path, photos: Path, env: dict[str, str]) -> None:
    """Copy the demo photos, index them, find their faces and teach one category."""
    rng = random.Random(7)
    for folder, count in PICK.items():
        files = sorted((DATA / folder).glob("*.jpg"))
        for src in rng.sample(files, min(count, len(files))):
            dest = photos / folder.replace("/", "-") / src.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    started = time.monotonic()
    cli(env, "index", str(photos))
    cli(env, "faces", "scan", "--all")
    examples = sorted((photos / "wild-landscape").glob("*.jpg"))[:5]
    cli(env, "category", "create", CATEGORY, "--examples", *map(str, examples),
        "--description", "Demo category of the screenshots")
    print(f"library: {sum(PICK.values())} photos indexed, faces, 1 category "
          f"({time.monotonic() - started:.0f} s)")


def discover_pages(app: object) -> list[Page]:
    """Every GET route that answers an HTML page, its arguments filled from the demo library
    (the first photo, person and category); a route whose arguments cannot be filled is
    reported and left out."""
    from flask import Flask

    assert isinstance(app, Flask)
    client = app.test_client()
    samples = {"photo_id": first_id(client, "/api/v1/photos?limit=1", "photos"),
               "person_id": first_id(client, "/api/v1/people", "people"),
               "name": CATEGORY}
    pages: list[Page] = []
    seen: set[str] = set()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()) or rule.rule.startswith(SKIP_PREFIXES):
            continue
        values = {arg: samples.get(arg) for arg in rule.arguments}
        if any(v is None for v in values.values()):
            print(f"skipped {rule.rule}: no sample for {sorted(rule.arguments)}")
            continue
        with app.test_request_context():
            from flask import url_for

            path = url_for(rule.endpoint, **values)
        if rule.endpoint == "search_api.page":
            path += "?q=beach"
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        name = ALIASES.get(rule.endpoint) or rule.rule.strip("/").replace("/", "-").split("<")[0]
        name = name.strip("-") or "home"
        if name not in seen:
            seen.add(name)
            pages.append(Page(name, path))
    return pages


def first_id(client: object, url: str, key: str) -> int | None:
    data = client.get(url).get_json(silent=True) or {}  # type: ignore[attr-defined]
    items = data.get(key) or data.get("items") or []
    return items[0].get("id") if items else None


@contextmanager
def serve(app: object, settings: object) -> Iterator[str]:
    """The app on waitress (as ``smartalbum serve`` runs it) on a free port."""
    from smartalbum.web.server import make_server

    server = make_server(app, settings, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        thread.join(timeout=5)


def capture(base: str, pages: list[Page], out: Path, full: bool, parallel: int) -> Report:
    """Every page in every size, scheme and language; ``parallel`` pages at a time (most of
    a shot is waiting for the network to go quiet)."""
    return asyncio.run(_capture(base, pages, out, full, parallel))


async def _capture(base: str, pages: list[Page], out: Path, full: bool, parallel: int) -> Report:
    from playwright.async_api import async_playwright

    report = Report()
    combos = [(size, scheme, lang) for size in SIZES for scheme in SCHEMES for lang in LANGUAGES]
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        gate = asyncio.Semaphore(parallel)

        async def one_combo(size: str, scheme: str, lang: str) -> None:
            width, height = SIZES[size]
            async with gate:
                context = await browser.new_context(
                    viewport={"width": width, "height": height}, color_scheme=scheme,
                    locale=LANGUAGES[lang], is_mobile=size == "phone",
                    has_touch=size == "phone", device_scale_factor=1,
                )
                page = await context.new_page()
                errors: list[str] = []  # this page's, emptied before each
                page.on("pageerror", lambda e: errors.append(f"script: {e}"))
                page.on("console", lambda m: errors.append(f"console: {m.text}")
                        if m.type == "error" else None)
                for item in pages:
                    errors.clear()
                    await page.goto(base + item.path, wait_until="networkidle", timeout=30_000)
                    await page.wait_for_timeout(150)
                    shot = out / f"{item.name}-{size}-{scheme}-{lang}.png"
                    await page.screenshot(path=str(shot), full_page=full)
                    report.shots += 1
                    if errors:
                        report.problems.setdefault(f"{item.name} ({lang})", []).extend(errors)
                await context.close()

        await asyncio.gather(*(one_combo(*combo) for combo in combos))
        await browser.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder of the PNGs (docs/img)")
    parser.add_argument("--pages", default="", help="only these pages (comma-separated names)")
    parser.add_argument("--full", action="store_true", help="whole pages, not the first screen")
    parser.add_argument("--keep", action="store_true", help="keep the demo data dir")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="a demo folder kept by an earlier --keep run: no rebuild")
    parser.add_argument("--parallel", type=int, default=4, help="pages captured at a time")
    args = parser.parse_args(argv)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" lines
    if not DATA.is_dir():
        print(f"no demo photos: {DATA} is missing")
        return 2
    if not Path(CHROMIUM).exists():
        print(f"no browser: {CHROMIUM} is missing")
        return 2

    started = time.monotonic()
    workdir = args.reuse or Path(tempfile.mkdtemp(prefix="smartalbum-shots-"))
    args.keep = args.keep or args.reuse is not None
    env = {**os.environ, "SMARTALBUM_DATA_DIR": str(workdir / "data"),
           "SMARTALBUM_FACES__AUTO_SCAN": "false", "PYTHONPATH": str(ROOT / "src")}
    env.pop("SMARTALBUM_DATABASE_URL", None)
    env.pop("SMARTALBUM_BROKER_URL", None)
    try:
        photos = workdir / "photos"
        if args.reuse is None:
            build_library(workdir / "data", photos, env)
        os.environ.update({k: v for k, v in env.items() if k.startswith("SMARTALBUM_")})
        for name in ("SMARTALBUM_DATABASE_URL", "SMARTALBUM_BROKER_URL"):
            os.environ.pop(name, None)
        from smartalbum.config import Settings
        from smartalbum.web import create_app

        settings = Settings()
        app = create_app(settings)
        pages = discover_pages(app)
        wanted = {n for n in args.pages.split(",") if n}
        if wanted:
            pages = [p for p in pages if p.name in wanted]
        print("pages:", ", ".join(f"{p.name} ({p.path})" for p in pages))
        args.out.mkdir(parents=True, exist_ok=True)
        with serve(app, settings) as base:
            report = capture(base, pages, args.out, args.full, args.parallel)
    finally:
        if args.keep:
            print(f"demo data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{report.shots} screenshots in {args.out} ({time.monotonic() - started:.0f} s)")
    for where, problems in sorted(report.problems.items()):
        for problem in sorted(set(problems)):
            print(f"  {where}: {problem}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
