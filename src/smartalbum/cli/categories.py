"""``smartalbum category ...`` and ``smartalbum retrain``.

Exit codes: 0 success; 2 bad usage or input (unknown category, too few examples, a
retrain that was refused with ``--strict``...). Categories are fitted from stored
embeddings; the model's backbone runs only for example files the catalog does not know.
Typed errors (:class:`~smartalbum.categories.errors.CategoryError`, exit 2) propagate to
the top group's one handler.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import click

from smartalbum.categories.errors import InvalidCategory
from smartalbum.cli.context import AppContext, pass_app
from smartalbum.cli.errors import CommandError, bundle_is_usage_error, unknown_head_is_usage_error
from smartalbum.cli.greedy import GreedyCommand, GreedyOption
from smartalbum.cli.options import (
    background_option,
    bundle_option,
    database_url_option,
    format_option,
    head_option,
    limit_option,
)
from smartalbum.errors import EXIT_USAGE

_format_option = format_option(["table", "json"])


def _teacher(app: AppContext, database_url: str | None, bundle: Path | None) -> Any:
    from smartalbum.categories.teach import Teacher, bundle_backbone_version

    factory = app.catalog(database_url)
    with bundle_is_usage_error():
        bv = bundle_backbone_version(bundle or app.settings.model.bundle)
    return Teacher(factory, bv, cache_root=Path(app.settings.data_dir).expanduser() / "cache")


def _ids(app: AppContext, teacher: Any, paths: tuple[str, ...], bundle: Path | None) -> list[int]:
    """Photo ids of example paths, indexing files the catalog does not know yet."""
    from sqlalchemy import select

    from smartalbum.categories.resolve import expand, photo_ids_for_paths
    from smartalbum.library.schema import File

    files = expand(paths)
    if not files:
        return []
    with teacher.factory() as s:
        known = set(s.scalars(select(File.path).where(File.path.in_([str(f) for f in files]))))
    engine = None
    if any(str(f) not in known for f in files):
        engine = app.engine(bundle)
    return photo_ids_for_paths(teacher.factory, files, engine)


def _print(obj: Any, fmt: str, table: Any) -> None:
    if fmt == "json":
        click.echo(json.dumps(obj, indent=None))
    else:
        table(obj)


def _assessment(r: dict[str, Any], factory: Any) -> None:
    """How sure the category is, in words, and the photos whose answers would settle it."""
    if r.get("size_text"):
        sure = f" ({r['confidence']})" if r.get("confidence") else ""
        click.echo(f"  {r['size_text']}{sure}")
    if r.get("warning"):
        click.echo(f"  warning: {r['warning']}")
    if r.get("questions"):
        from smartalbum.library.catalog import iter_photos

        with factory() as s:
            photos = {p.id: p for p in iter_photos(s, ids=r["questions"], include_missing=True)}
        click.echo(
            f"  label these next (smartalbum category correct {r['name']!r} PATH --in or --out):"
        )
        for pid in r["questions"]:
            photo = photos.get(pid)
            click.echo(f"    {photo.path if photo and photo.path else f'photo {pid}'}")


def _run_job(
    app: AppContext, teacher: Any, action: str, names: list[str], background: bool
) -> dict[str, Any] | None:
    """Run a ``categories`` job: submitted to the workers, or in this process with a bar."""
    from smartalbum.jobs import store
    from smartalbum.jobs.kinds import run

    params = {"action": action, "names": names}
    if background:
        from smartalbum.jobs.submit import submit_job

        job_id = submit_job(app.settings, teacher.factory, "categories", params)
        click.echo(f"job {job_id} submitted (see `smartalbum jobs`)")
        return None
    job_id = store.create_job(teacher.factory, "categories", params)
    run(app.settings, teacher.factory, job_id)
    job = store.get_job(teacher.factory, job_id)
    if job is None or job.status != "done":
        raise CommandError(job.message if job else "the job vanished", EXIT_USAGE)
    return job.result


@click.group("category")
def category() -> None:
    """Teach custom categories from a few example photos."""


@category.command("create", cls=GreedyCommand)
@click.argument("name")
@click.option(
    "--examples",
    cls=GreedyOption,
    required=True,
    metavar="PATH...",
    help="Photos (or folders of photos) that belong to the category.",
)
@click.option(
    "--counter-examples",
    cls=GreedyOption,
    metavar="PATH...",
    help="Photos that do not belong (optional).",
)
@click.option("--description", default="", help="A note shown with the category.")
@_format_option
@bundle_option
@database_url_option
@pass_app
def create(
    app: AppContext,
    name: str,
    examples: tuple[str, ...],
    counter_examples: tuple[str, ...],
    description: str,
    fmt: str,
    bundle: Path | None,
    database_url: str | None,
) -> None:
    """Create category NAME from example photos and sort the whole catalog into it."""
    teacher = _teacher(app, database_url, bundle)
    pos = _ids(app, teacher, examples, bundle)
    neg = _ids(app, teacher, counter_examples or (), bundle)
    result = teacher.create(name, pos, neg, description=description)

    def table(r: dict[str, Any]) -> None:
        click.echo(
            f"category {r['name']!r} v{r['version']}: {r['examples']} examples, "
            f"{r['counter_examples']} counter-examples; {r['members']} of "
            f"{r['resort']['scored']} photos in it (re-sorted in {r['resort']['seconds']:.2f} s)"
        )
        _assessment(r, teacher.factory)

    _print(result, fmt, table)


@category.command("add", cls=GreedyCommand)
@click.argument("name")
@click.option("--examples", cls=GreedyOption, metavar="PATH...", help="More examples.")
@click.option(
    "--counter-examples", cls=GreedyOption, metavar="PATH...", help="More counter-examples."
)
@bundle_option
@database_url_option
@pass_app
def add(
    app: AppContext,
    name: str,
    examples: tuple[str, ...],
    counter_examples: tuple[str, ...],
    bundle: Path | None,
    database_url: str | None,
) -> None:
    """Add (counter-)examples to NAME, refit it (a new version) and re-sort."""
    teacher = _teacher(app, database_url, bundle)
    r = teacher.add_examples(
        name,
        _ids(app, teacher, examples or (), bundle),
        _ids(app, teacher, counter_examples or (), bundle),
    )
    click.echo(f"category {r['name']!r} v{r['version']}: {r['members']} photos in it")
    _assessment(r, teacher.factory)


@category.command("correct")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--in/--out",
    "positive",
    required=True,
    help="The photos belong (--in) or do not belong (--out) to NAME.",
)
@bundle_option
@database_url_option
@pass_app
def correct(
    app: AppContext,
    name: str,
    paths: tuple[str, ...],
    positive: bool,
    bundle: Path | None,
    database_url: str | None,
) -> None:
    """Correct NAME for catalog photos; `smartalbum retrain` learns from it."""
    teacher = _teacher(app, database_url, bundle)
    ids = _ids(app, teacher, paths, None)
    for pid in ids:
        r = teacher.correct(name, pid, positive)
    click.echo(f"{len(ids)} correction(s) recorded; {r['members']} photos in {name!r}")


@category.command("list")
@_format_option
@bundle_option
@database_url_option
@pass_app
def list_(app: AppContext, fmt: str, bundle: Path | None, database_url: str | None) -> None:
    """List the categories."""
    from smartalbum.categories import store

    teacher = _teacher(app, database_url, bundle)
    with teacher.factory() as s:
        rows = [store.summary(s, c) for c in store.all_categories(s)]

    def table(rows: list[dict[str, Any]]) -> None:
        if not rows:
            click.echo(
                "no categories yet (create one: smartalbum category create NAME --examples PATH...)"
            )
        for r in rows:
            click.echo(
                f"{r['name']:<24} v{r['version'] or '-':<3} {r['members']:>7} photos  "
                f"{r['examples']} examples, {r['counter_examples']} counter-examples"
                + (f"  [{r['confidence']}]" if r.get("confidence") else "")
            )
            if r.get("warning"):
                click.echo(f"  warning: {r['warning']}")

    _print(rows, fmt, table)


@category.command("show")
@click.argument("name")
@limit_option(
    type=click.IntRange(1), default=None, show_default=False, help="Show at most N photos."
)
@_format_option
@bundle_option
@database_url_option
@pass_app
def show(
    app: AppContext,
    name: str,
    limit: int | None,
    fmt: str,
    bundle: Path | None,
    database_url: str | None,
) -> None:
    """The catalog's photos in NAME, best score first, with paths and scores."""
    from smartalbum.categories.query import members

    teacher = _teacher(app, database_url, bundle)
    with teacher.factory() as s:
        rows = members(s, name, limit=limit)
    if fmt == "json":
        for r in rows:
            click.echo(json.dumps(r))
        return
    for r in rows:
        click.echo(f"{r['score']:.3f}  {r['path'] or '(missing) ' + r['sha256']}")
    click.echo(f"{len(rows)} photo(s) in {name!r}")


@category.command("delete")
@click.argument("name")
@bundle_option
@database_url_option
@pass_app
def delete(app: AppContext, name: str, bundle: Path | None, database_url: str | None) -> None:
    """Delete NAME with its examples and versions (photos are never touched)."""
    from smartalbum.categories import store
    from smartalbum.library.db import session_scope

    teacher = _teacher(app, database_url, bundle)
    with session_scope(teacher.factory) as s:
        store.delete_category(s, name)
    click.echo(f"category {name!r} deleted")


@category.command("export")
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="File to write (default: standard output).",
)
@bundle_option
@database_url_option
@pass_app
def export(
    app: AppContext, name: str, output: Path | None, bundle: Path | None, database_url: str | None
) -> None:
    """Write NAME (its head and examples by content hash) as a small JSON file."""
    from smartalbum.categories import store

    teacher = _teacher(app, database_url, bundle)
    with teacher.factory() as s:
        doc = store.export_category(s, name)
    text = json.dumps(doc, separators=(",", ":"))
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n")
        click.echo(f"wrote {output} ({len(text) // 1024 + 1} KB)", err=True)


@category.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="Import under another name.")
@bundle_option
@database_url_option
@pass_app
def import_(
    app: AppContext, file: Path, name: str | None, bundle: Path | None, database_url: str | None
) -> None:
    """Import a category file written by `category export`."""
    teacher = _teacher(app, database_url, bundle)
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidCategory(str(exc)) from exc
    r = teacher.import_category(data, name)
    click.echo(
        f"imported {r['name']!r} v{r['version']}: {r['members']} photos in it, "
        f"{r['matched_examples']} of its examples found in this catalog"
    )


@category.command("versions")
@click.argument("name")
@_format_option
@bundle_option
@database_url_option
@pass_app
def versions_(
    app: AppContext, name: str, fmt: str, bundle: Path | None, database_url: str | None
) -> None:
    """The head versions of NAME (the active one marked *)."""
    from smartalbum.categories import store

    teacher = _teacher(app, database_url, bundle)
    with teacher.factory() as s:
        rows = [store.version_dict(v) for v in store.versions(s, store.get_category(s, name))]
    _print(
        rows,
        fmt,
        lambda rows: [
            click.echo(
                f"{'*' if r['active'] else ' '} v{r['version']:<3} {r['reason']:<9} "
                f"threshold {r['threshold']:.3f}  {r['created_at']}"
            )
            for r in rows
        ],
    )


@category.command("restore")
@click.argument("name")
@click.argument("version", type=int)
@bundle_option
@database_url_option
@pass_app
def restore(
    app: AppContext, name: str, version: int, bundle: Path | None, database_url: str | None
) -> None:
    """Make VERSION of NAME active again and re-sort."""
    from smartalbum.categories import store
    from smartalbum.library.db import session_scope

    teacher = _teacher(app, database_url, bundle)
    with session_scope(teacher.factory) as s:
        category = store.get_category(s, name)
        store.restore_version(s, category, version)
        r = teacher.resort(s, category)
    click.echo(f"{name!r} is at v{version} again: {r.members} photos in it")


@category.command("review")
@click.argument("name")
@limit_option(type=click.IntRange(1, 1000), default=50)
@_format_option
@bundle_option
@database_url_option
@pass_app
def review(
    app: AppContext, name: str, limit: int, fmt: str, bundle: Path | None, database_url: str | None
) -> None:
    """The photos to label next for NAME, most uncertain first."""
    from smartalbum.categories.query import review_items

    teacher = _teacher(app, database_url, bundle)
    with teacher.factory() as s:
        rows = review_items(teacher, s, name, limit=limit)
    if fmt == "json":
        for r in rows:
            click.echo(json.dumps(r))
        return
    for r in rows:
        click.echo(f"{r['score']:.3f} {'in ' if r['predicted'] else 'out'}  {r['path']}")


@category.command("grow")
@click.argument("names", nargs=-1)
@background_option(help="Run as a job on the workers.")
@bundle_option
@database_url_option
@pass_app
def grow(
    app: AppContext,
    names: tuple[str, ...],
    background: bool,
    bundle: Path | None,
    database_url: str | None,
) -> None:
    """Refine NAMES with pseudo-labels of confident photos, kept only where that helps."""
    teacher = _teacher(app, database_url, bundle)
    result = _run_job(app, teacher, "grow", list(names), background)
    for r in (result or {}).get("reports", []):
        click.echo(f"{r['category']}: {r['reason']} ({r['pseudo_positives']} pseudo-positives)")


@category.command("explain")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--category",
    "category_name",
    default=None,
    help="Explain this category's score (default: the bundle's head).",
)
@head_option(help="Explain this head of the bundle.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="PNG to write: the photo with a heat-map of where the model looked.",
)
@bundle_option
@database_url_option
@pass_app
def explain(
    app: AppContext,
    photo: Path,
    category_name: str | None,
    head: str | None,
    output: Path,
    bundle: Path | None,
    database_url: str | None,
) -> None:
    """Heat-map of where the model looked when it scored PHOTO (Grad-CAM)."""
    from smartalbum.categories import store
    from smartalbum.categories.explain import Explainer, overlay_png
    from smartalbum.imaging.decode import load_photo
    from smartalbum.imaging.errors import PhotoError
    from smartalbum.model.bundle import Bundle

    loaded = Bundle.load(bundle or app.settings.model.bundle)
    if category_name:
        teacher = _teacher(app, database_url, bundle)
        with teacher.factory() as s:
            active = store.active_version(s, store.get_category(s, category_name))
            if active is None:
                raise CommandError(f"category {category_name!r} has no head yet", EXIT_USAGE)
            the_head = store.head_of(active)
    else:
        with unknown_head_is_usage_error():
            the_head = loaded.head(head or app.settings.model.head)
    try:
        image = load_photo(photo, max_side=512, digest=False).image
    except PhotoError as exc:  # a photo the user named: bad input (exit 2), not a failed run
        raise CommandError(str(exc), EXIT_USAGE) from exc
    result = Explainer(loaded).heatmap(image, the_head)
    output.write_bytes(overlay_png(image, result["map"]))
    click.echo(f"{result['label']} ({result['probability']:.2f}): wrote {output}")


@category.command("explain-setup")
@bundle_option
@pass_app
def explain_setup(app: AppContext, bundle: Path | None) -> None:
    """Write the bundle's features.onnx (needs the train extra's onnx package)."""
    from smartalbum.categories.explain import write_features_model
    from smartalbum.model.bundle import DEFAULT_BUNDLE_DIR

    try:
        import onnx  # noqa: F401
    except ImportError:
        raise click.UsageError("explain-setup needs the onnx package (the train extra)") from None
    target = bundle or app.settings.model.bundle or DEFAULT_BUNDLE_DIR
    path = write_features_model(target)
    click.echo(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def _retrain_command(fn: Any) -> Any:
    """``category retrain`` and ``retrain``: the same options and body, two names."""

    @click.argument("names", nargs=-1)
    @background_option(help="Run as a job on the workers.")
    @_format_option
    @click.option("--strict", is_flag=True, help="Exit 2 when a retrain was refused.")
    @bundle_option
    @database_url_option
    @pass_app
    @functools.wraps(fn)
    def run(
        app: AppContext,
        names: tuple[str, ...],
        background: bool,
        fmt: str,
        strict: bool,
        bundle: Path | None,
        database_url: str | None,
    ) -> None:
        teacher = _teacher(app, database_url, bundle)
        result = _run_job(app, teacher, "retrain", list(names), background)
        if result is None:
            return
        reports = result.get("reports", [])
        if fmt == "json":
            click.echo(json.dumps(reports))
        else:
            if not reports:
                click.echo("no categories to retrain")
            for r in reports:
                b, a = r["before"], r["after"]
                fig = (
                    f" balanced accuracy {b.get('balanced_accuracy', '-')} -> "
                    f"{a.get('balanced_accuracy', '-')} on {r['held_back']} held-back labels"
                    if a
                    else ""
                )
                click.echo(f"{r['category']}: {r['reason']}{fig}")
        if strict and any(not r["accepted"] for r in reports):
            sys.exit(EXIT_USAGE)

    return run


@category.command("retrain")
@_retrain_command
def category_retrain() -> None:
    """Retrain NAMES (default: all) from examples and corrections; a new head replaces
    the old only when at least as good on held-back labels."""


@click.command("retrain")
@_retrain_command
def retrain() -> None:
    """Retrain categories from the user's corrections (see `category retrain`)."""
