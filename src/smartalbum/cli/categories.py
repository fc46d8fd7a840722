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
from collections.abc import Callable
from dataclasses import dataclass
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
    output_option,
)
from smartalbum.errors import EXIT_USAGE

_format_option = format_option(["table", "json"])


def _teacher(app: AppContext, database_url: str | None, bundle: Path | None) -> Any:
    from smartalbum.categories.teach import Teacher, bundle_backbone_version

    factory = app.catalog(database_url)
    with bundle_is_usage_error():
        bv = bundle_backbone_version(bundle or app.settings.model.bundle)
    return Teacher(factory, bv, cache_root=Path(app.settings.data_dir).expanduser() / "cache")


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


def _print_lines(rows: list[dict[str, Any]], fmt: str, line: Callable[[Any], str]) -> None:
    """A line a row: the row as JSON (``--format json``, JSON lines) or ``line(row)``."""
    for r in rows:
        click.echo(json.dumps(r) if fmt == "json" else line(r))


@dataclass
class _Categories:
    """What a category command works with (see :func:`_with_teacher`): the app, the
    Teacher over the chosen catalog, and ``--bundle`` (it indexes example files the catalog
    does not know yet)."""

    app: AppContext
    teacher: Any
    bundle: Path | None

    def ids(self, paths: tuple[str, ...], *, own_bundle: bool = True) -> list[int]:
        """Photo ids of example paths, indexing files the catalog does not know yet (with
        ``--bundle``, or the configured bundle when not ``own_bundle``)."""
        from sqlalchemy import select

        from smartalbum.categories.resolve import expand, photo_ids_for_paths
        from smartalbum.library.schema import File

        files = expand(paths)
        if not files:
            return []
        factory = self.teacher.factory
        with factory() as s:
            known = set(s.scalars(select(File.path).where(File.path.in_([str(f) for f in files]))))
        engine = None
        if any(str(f) not in known for f in files):
            engine = self.app.engine(self.bundle if own_bundle else None)
        return photo_ids_for_paths(factory, files, engine)

    def run_job(self, action: str, names: list[str], background: bool) -> dict[str, Any] | None:
        """Run a ``categories`` job: submitted to the workers, or in this process with a bar."""
        from smartalbum.jobs import store
        from smartalbum.jobs.kinds import run

        factory, settings = self.teacher.factory, self.app.settings
        params = {"action": action, "names": names}
        if background:
            from smartalbum.jobs.submit import submit_job

            job_id = submit_job(settings, factory, "categories", params)
            click.echo(f"job {job_id} submitted (see `smartalbum jobs`)")
            return None
        job_id = store.create_job(factory, "categories", params)
        run(settings, factory, job_id)
        job = store.get_job(factory, job_id)
        if job is None or job.status != "done":
            raise CommandError(job.message if job else "the job vanished", EXIT_USAGE)
        return job.result


def _with_teacher(fn: Any) -> Any:
    """``--bundle`` and ``--database-url`` (the last options of every category command) and
    the Teacher they make: the command is called as ``fn(_Categories, its own parameters)``."""

    @bundle_option
    @database_url_option
    @pass_app
    @functools.wraps(fn)
    def run(
        app: AppContext, *args: Any, bundle: Path | None, database_url: str | None, **kwargs: Any
    ) -> Any:
        return fn(_Categories(app, _teacher(app, database_url, bundle), bundle), *args, **kwargs)

    return run


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
@_with_teacher
def create(
    cmd: _Categories,
    name: str,
    examples: tuple[str, ...],
    counter_examples: tuple[str, ...],
    description: str,
    fmt: str,
) -> None:
    """Create category NAME from example photos and sort the whole catalog into it."""
    pos = cmd.ids(examples)
    neg = cmd.ids(counter_examples or ())
    result = cmd.teacher.create(name, pos, neg, description=description)

    def table(r: dict[str, Any]) -> None:
        click.echo(
            f"category {r['name']!r} v{r['version']}: {r['examples']} examples, "
            f"{r['counter_examples']} counter-examples; {r['members']} of "
            f"{r['resort']['scored']} photos in it (re-sorted in {r['resort']['seconds']:.2f} s)"
        )
        _assessment(r, cmd.teacher.factory)

    _print(result, fmt, table)


@category.command("add", cls=GreedyCommand)
@click.argument("name")
@click.option("--examples", cls=GreedyOption, metavar="PATH...", help="More examples.")
@click.option(
    "--counter-examples", cls=GreedyOption, metavar="PATH...", help="More counter-examples."
)
@_with_teacher
def add(
    cmd: _Categories, name: str, examples: tuple[str, ...], counter_examples: tuple[str, ...]
) -> None:
    """Add (counter-)examples to NAME, refit it (a new version) and re-sort."""
    r = cmd.teacher.add_examples(
        name,
        cmd.ids(examples or ()),
        cmd.ids(counter_examples or ()),
    )
    click.echo(f"category {r['name']!r} v{r['version']}: {r['members']} photos in it")
    _assessment(r, cmd.teacher.factory)


@category.command("correct")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--in/--out",
    "positive",
    required=True,
    help="The photos belong (--in) or do not belong (--out) to NAME.",
)
@_with_teacher
def correct(cmd: _Categories, name: str, paths: tuple[str, ...], positive: bool) -> None:
    """Correct NAME for catalog photos; `smartalbum retrain` learns from it."""
    ids = cmd.ids(paths, own_bundle=False)
    for pid in ids:
        r = cmd.teacher.correct(name, pid, positive)
    click.echo(f"{len(ids)} correction(s) recorded; {r['members']} photos in {name!r}")


@category.command("list")
@_format_option
@_with_teacher
def list_(cmd: _Categories, fmt: str) -> None:
    """List the categories."""
    from smartalbum.categories import store

    with cmd.teacher.factory() as s:
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
@_with_teacher
def show(cmd: _Categories, name: str, limit: int | None, fmt: str) -> None:
    """The catalog's photos in NAME, best score first, with paths and scores."""
    from smartalbum.categories.query import members

    with cmd.teacher.factory() as s:
        rows = members(s, name, limit=limit)
    _print_lines(
        rows, fmt, lambda r: f"{r['score']:.3f}  {r['path'] or '(missing) ' + r['sha256']}"
    )
    if fmt != "json":
        click.echo(f"{len(rows)} photo(s) in {name!r}")


@category.command("delete")
@click.argument("name")
@_with_teacher
def delete(cmd: _Categories, name: str) -> None:
    """Delete NAME with its examples and versions (photos are never touched)."""
    from smartalbum.categories import store
    from smartalbum.library.db import session_scope

    with session_scope(cmd.teacher.factory) as s:
        store.delete_category(s, name)
    click.echo(f"category {name!r} deleted")


@category.command("export")
@click.argument("name")
@output_option(default=None, help="File to write (default: standard output).")
@_with_teacher
def export(cmd: _Categories, name: str, output: Path | None) -> None:
    """Write NAME (its head and examples by content hash) as a small JSON file."""
    from smartalbum.categories import store

    with cmd.teacher.factory() as s:
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
@_with_teacher
def import_(cmd: _Categories, file: Path, name: str | None) -> None:
    """Import a category file written by `category export`."""
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidCategory(str(exc)) from exc
    r = cmd.teacher.import_category(data, name)
    click.echo(
        f"imported {r['name']!r} v{r['version']}: {r['members']} photos in it, "
        f"{r['matched_examples']} of its examples found in this catalog"
    )


@category.command("versions")
@click.argument("name")
@_format_option
@_with_teacher
def versions_(cmd: _Categories, name: str, fmt: str) -> None:
    """The head versions of NAME (the active one marked *)."""
    from smartalbum.categories import store

    with cmd.teacher.factory() as s:
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
@_with_teacher
def restore(cmd: _Categories, name: str, version: int) -> None:
    """Make VERSION of NAME active again and re-sort."""
    from smartalbum.categories import store
    from smartalbum.library.db import session_scope

    with session_scope(cmd.teacher.factory) as s:
        category = store.get_category(s, name)
        store.restore_version(s, category, version)
        r = cmd.teacher.resort(s, category)
    click.echo(f"{name!r} is at v{version} again: {r.members} photos in it")


@category.command("review")
@click.argument("name")
@limit_option(type=click.IntRange(1, 1000), default=50)
@_format_option
@_with_teacher
def review(cmd: _Categories, name: str, limit: int, fmt: str) -> None:
    """The photos to label next for NAME, most uncertain first."""
    from smartalbum.categories.query import review_items

    with cmd.teacher.factory() as s:
        rows = review_items(cmd.teacher, s, name, limit=limit)
    _print_lines(
        rows, fmt, lambda r: f"{r['score']:.3f} {'in ' if r['predicted'] else 'out'}  {r['path']}"
    )


@category.command("grow")
@click.argument("names", nargs=-1)
@background_option(help="Run as a job on the workers.")
@_with_teacher
def grow(cmd: _Categories, names: tuple[str, ...], background: bool) -> None:
    """Refine NAMES with pseudo-labels of confident photos, kept only where that helps."""
    result = cmd.run_job("grow", list(names), background)
    for r in (result or {}).get("reports", []):
        click.echo(f"{r['category']}: {r['reason']} ({r['pseudo_positives']} pseudo-positives)")


@category.command("explain")
@click.argument("photo", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--category",
    "category_name",
    default=None,
    help="Explain this category's score (default: the bundle's head).",
)
@head_option(help="Explain this head of the bundle.")
@output_option(
    required=True, help="PNG to write: the photo with a heat-map of where the model looked."
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
    """Heat-map of where the model looked when it scored PHOTO (Grad-CAM).

    PHOTO may be a category example uploaded on another machine (its path in the catalog,
    e.g. from `category show`): its bytes are read from the catalog."""
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
    source: Path | bytes = photo
    if not photo.is_file():
        from smartalbum.library.stored_files import path_bytes

        stored = path_bytes(app.catalog(database_url), photo)
        if stored is None:
            raise CommandError(f"no such file: {photo}", EXIT_USAGE)
        source = stored
    try:
        image = load_photo(source, max_side=512, digest=False, name=photo.name).image
    except PhotoError as exc:  # a photo the user named: bad input (exit 2), not a failed run
        raise CommandError(str(exc), EXIT_USAGE) from exc
    result = Explainer(loaded).heatmap(image, the_head)
    output.write_bytes(overlay_png(image, result["map"], region=result["region"]))
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
    @_with_teacher
    @functools.wraps(fn)
    def run(
        cmd: _Categories, names: tuple[str, ...], background: bool, fmt: str, strict: bool
    ) -> None:
        result = cmd.run_job("retrain", list(names), background)
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
                    f" — checked on {a['n']} of your labels kept aside: {_right(a)} right "
                    f"(before: {_right(b)})"
                    if a.get("n")
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


def _right(metrics: dict) -> str:
    """How many of the labels kept aside a head got right, in words ("3 of 4")."""
    if not metrics.get("n"):
        return "-"
    return f"{round(metrics['accuracy'] * metrics['n'])} of {metrics['n']}"
