"""``smartalbum category ...`` and ``smartalbum retrain``.

Exit codes: 0 success; 2 bad usage or input (unknown category, too few examples, a
retrain that was refused with ``--strict``...). Categories are fitted from stored
embeddings; the model's backbone runs only for example files the catalog does not know.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from smartalbum.config import get_settings
from smartalbum.library.cli import database_url_option

EXIT_USAGE = 2


class _Greedy(click.Option):
    """An option that takes every following argument up to the next option, so that
    ``--examples a.jpg b.jpg c/`` works as in the docs (and ``--examples a --examples b``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("multiple", True)
        super().__init__(*args, **kwargs)

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            option = parser._long_opt.get(name) or parser._short_opt.get(name)
            if option is None:
                continue
            original = option.process

            def process(value: Any, state: Any, _original: Any = original) -> None:
                values = [value]
                while state.rargs and not state.rargs[0].startswith("-"):
                    values.append(state.rargs.pop(0))
                for v in values:
                    _original(v, state)

            option.process = process


_bundle_option = click.option(
    "--bundle",
    type=click.Path(path_type=Path),
    default=None,
    help="Model bundle directory (default: the shipped one).",
)
_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_USAGE)


def _teacher(database_url: str | None, bundle: Path | None):
    from smartalbum.categories.teach import Teacher, bundle_backbone_version
    from smartalbum.library.cli import open_catalog_for_cli
    from smartalbum.model.bundle import BundleError

    settings = get_settings()
    factory = open_catalog_for_cli(database_url)
    try:
        bv = bundle_backbone_version(bundle or settings.model.bundle)
    except (BundleError, OSError, ValueError) as exc:
        raise click.UsageError(f"cannot load model bundle: {exc}") from exc
    return Teacher(factory, bv, cache_root=Path(settings.data_dir).expanduser() / "cache")


def _ids(teacher, paths: tuple[str, ...], bundle: Path | None) -> list[int]:
    """Photo ids of example paths, indexing files the catalog does not know yet."""
    from smartalbum.categories.resolve import expand, photo_ids_for_paths
    from smartalbum.library.schema import File

    files = expand(paths)
    if not files:
        return []
    with teacher.factory() as s:
        from sqlalchemy import select

        known = set(s.scalars(select(File.path).where(File.path.in_([str(f) for f in files]))))
    engine = None
    if any(str(f) not in known for f in files):
        from smartalbum.cli.context import AppContext

        engine = AppContext().engine(bundle)
    return photo_ids_for_paths(teacher.factory, files, engine)


def _print(obj: Any, fmt: str, table: Any) -> None:
    if fmt == "json":
        click.echo(json.dumps(obj, indent=None))
    else:
        table(obj)


def _run_job(teacher, action: str, names: list[str], background: bool) -> dict[str, Any] | None:
    """Run a ``categories`` job: submitted to the workers, or in this process with a bar."""
    from smartalbum.jobs import store
    from smartalbum.jobs.kinds import run

    settings = get_settings()
    params = {"action": action, "names": names}
    if background:
        from smartalbum.jobs.submit import submit_job

        job_id = submit_job(settings, teacher.factory, "categories", params)
        click.echo(f"job {job_id} submitted (see `smartalbum jobs`)")
        return None
    job_id = store.create_job(teacher.factory, "categories", params)
    run(settings, teacher.factory, job_id)
    job = store.get_job(teacher.factory, job_id)
    if job is None or job.status != "done":
        _fail(RuntimeError(job.message if job else "the job vanished"))
    return job.result


def register(main: click.Group) -> None:
    """Attach ``category`` and ``retrain`` to the ``smartalbum`` group."""
    from smartalbum.categories.errors import CategoryError

    @main.group("category")
    def category() -> None:
        """Teach custom categories from a few example photos."""

    @category.command("create")
    @click.argument("name")
    @click.option(
        "--examples",
        cls=_Greedy,
        required=True,
        metavar="PATH...",
        help="Photos (or folders of photos) that belong to the category.",
    )
    @click.option(
        "--counter-examples",
        cls=_Greedy,
        metavar="PATH...",
        help="Photos that do not belong (optional).",
    )
    @click.option("--description", default="", help="A note shown with the category.")
    @_format_option
    @_bundle_option
    @database_url_option
    def create(
        name: str,
        examples: tuple[str, ...],
        counter_examples: tuple[str, ...],
        description: str,
        fmt: str,
        bundle: Path | None,
        database_url: str | None,
    ) -> None:
        """Create category NAME from example photos and sort the whole catalog into it."""
        teacher = _teacher(database_url, bundle)
        try:
            pos = _ids(teacher, examples, bundle)
            neg = _ids(teacher, counter_examples or (), bundle)
            result = teacher.create(name, pos, neg, description=description)
        except CategoryError as exc:
            _fail(exc)
        _print(
            result,
            fmt,
            lambda r: click.echo(
                f"category {r['name']!r} v{r['version']}: {r['examples']} examples, "
                f"{r['counter_examples']} counter-examples; {r['members']} of "
                f"{r['resort']['scored']} photos in it (re-sorted in {r['resort']['seconds']:.2f} s)"
            ),
        )

    @category.command("add")
    @click.argument("name")
    @click.option("--examples", cls=_Greedy, metavar="PATH...", help="More examples.")
    @click.option(
        "--counter-examples", cls=_Greedy, metavar="PATH...", help="More counter-examples."
    )
    @_bundle_option
    @database_url_option
    def add(
        name: str,
        examples: tuple[str, ...],
        counter_examples: tuple[str, ...],
        bundle: Path | None,
        database_url: str | None,
    ) -> None:
        """Add (counter-)examples to NAME, refit it (a new version) and re-sort."""
        teacher = _teacher(database_url, bundle)
        try:
            r = teacher.add_examples(
                name,
                _ids(teacher, examples or (), bundle),
                _ids(teacher, counter_examples or (), bundle),
            )
        except CategoryError as exc:
            _fail(exc)
        click.echo(f"category {r['name']!r} v{r['version']}: {r['members']} photos in it")

    @category.command("correct")
    @click.argument("name")
    @click.argument("paths", nargs=-1, required=True)
    @click.option(
        "--in/--out",
        "positive",
        required=True,
        help="The photos belong (--in) or do not belong (--out) to NAME.",
    )
    @_bundle_option
    @database_url_option
    def correct(
        name: str,
        paths: tuple[str, ...],
        positive: bool,
        bundle: Path | None,
        database_url: str | None,
    ) -> None:
        """Correct NAME for catalog photos; `smartalbum retrain` learns from it."""
        teacher = _teacher(database_url, bundle)
        try:
            ids = _ids(teacher, paths, None)
            for pid in ids:
                r = teacher.correct(name, pid, positive)
        except CategoryError as exc:
            _fail(exc)
        click.echo(f"{len(ids)} correction(s) recorded; {r['members']} photos in {name!r}")

    @category.command("list")
    @_format_option
    @_bundle_option
    @database_url_option
    def list_(fmt: str, bundle: Path | None, database_url: str | None) -> None:
        """List the categories."""
        from smartalbum.categories import store

        teacher = _teacher(database_url, bundle)
        with teacher.factory() as s:
            rows = [store.summary(s, c) for c in store.all_categories(s)]

        def table(rows: list[dict[str, Any]]) -> None:
            if not rows:
                click.echo(
                    "no categories yet (create one: smartalbum category create NAME "
                    "--examples PATH...)"
                )
            for r in rows:
                click.echo(
                    f"{r['name']:<24} v{r['version'] or '-':<3} {r['members']:>7} photos  "
                    f"{r['examples']} examples, {r['counter_examples']} counter-examples"
                )

        _print(rows, fmt, table)

    @category.command("show")
    @click.argument("name")
    @click.option("--limit", type=click.IntRange(1), default=None, help="Show at most N photos.")
    @_format_option
    @_bundle_option
    @database_url_option
    def show(
        name: str, limit: int | None, fmt: str, bundle: Path | None, database_url: str | None
    ) -> None:
        """The catalog's photos in NAME, best score first, with paths and scores."""
        from smartalbum.categories.query import members

        teacher = _teacher(database_url, bundle)
        try:
            with teacher.factory() as s:
                rows = members(s, name, limit=limit)
        except CategoryError as exc:
            _fail(exc)
        if fmt == "json":
            for r in rows:
                click.echo(json.dumps(r))
            return
        for r in rows:
            click.echo(f"{r['score']:.3f}  {r['path'] or '(missing) ' + r['sha256']}")
        click.echo(f"{len(rows)} photo(s) in {name!r}")

    @category.command("delete")
    @click.argument("name")
    @_bundle_option
    @database_url_option
    def delete(name: str, bundle: Path | None, database_url: str | None) -> None:
        """Delete NAME with its examples and versions (photos are never touched)."""
        from smartalbum.categories import store
        from smartalbum.library.db import session_scope

        teacher = _teacher(database_url, bundle)
        try:
            with session_scope(teacher.factory) as s:
                store.delete_category(s, name)
        except CategoryError as exc:
            _fail(exc)
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
    @_bundle_option
    @database_url_option
    def export(
        name: str, output: Path | None, bundle: Path | None, database_url: str | None
    ) -> None:
        """Write NAME (its head and examples by content hash) as a small JSON file."""
        from smartalbum.categories import store

        teacher = _teacher(database_url, bundle)
        try:
            with teacher.factory() as s:
                doc = store.export_category(s, name)
        except CategoryError as exc:
            _fail(exc)
        text = json.dumps(doc, separators=(",", ":"))
        if output is None:
            click.echo(text)
        else:
            output.write_text(text + "\n")
            click.echo(f"wrote {output} ({len(text) // 1024 + 1} KB)", err=True)

    @category.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--name", default=None, help="Import under another name.")
    @_bundle_option
    @database_url_option
    def import_(
        file: Path, name: str | None, bundle: Path | None, database_url: str | None
    ) -> None:
        """Import a category file written by `category export`."""
        teacher = _teacher(database_url, bundle)
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            _fail(exc)
        try:
            r = teacher.import_category(data, name)
        except CategoryError as exc:
            _fail(exc)
        click.echo(
            f"imported {r['name']!r} v{r['version']}: {r['members']} photos in it, "
            f"{r['matched_examples']} of its examples found in this catalog"
        )

    @category.command("versions")
    @click.argument("name")
    @_format_option
    @_bundle_option
    @database_url_option
    def versions_(name: str, fmt: str, bundle: Path | None, database_url: str | None) -> None:
        """The head versions of NAME (the active one marked *)."""
        from smartalbum.categories import store

        teacher = _teacher(database_url, bundle)
        try:
            with teacher.factory() as s:
                rows = [
                    store.version_dict(v) for v in store.versions(s, store.get_category(s, name))
                ]
        except CategoryError as exc:
            _fail(exc)
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
    @_bundle_option
    @database_url_option
    def restore(name: str, version: int, bundle: Path | None, database_url: str | None) -> None:
        """Make VERSION of NAME active again and re-sort."""
        from smartalbum.categories import store
        from smartalbum.library.db import session_scope

        teacher = _teacher(database_url, bundle)
        try:
            with session_scope(teacher.factory) as s:
                category = store.get_category(s, name)
                store.restore_version(s, category, version)
                r = teacher.resort(s, category)
        except CategoryError as exc:
            _fail(exc)
        click.echo(f"{name!r} is at v{version} again: {r.members} photos in it")

    @category.command("review")
    @click.argument("name")
    @click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
    @_format_option
    @_bundle_option
    @database_url_option
    def review(
        name: str, limit: int, fmt: str, bundle: Path | None, database_url: str | None
    ) -> None:
        """The photos to label next for NAME, most uncertain first."""
        from smartalbum.categories.query import review_items

        teacher = _teacher(database_url, bundle)
        try:
            with teacher.factory() as s:
                rows = review_items(teacher, s, name, limit=limit)
        except CategoryError as exc:
            _fail(exc)
        if fmt == "json":
            for r in rows:
                click.echo(json.dumps(r))
            return
        for r in rows:
            click.echo(f"{r['score']:.3f} {'in ' if r['predicted'] else 'out'}  {r['path']}")

    @category.command("grow")
    @click.argument("names", nargs=-1)
    @click.option("--background", is_flag=True, help="Run as a job on the workers.")
    @_bundle_option
    @database_url_option
    def grow(
        names: tuple[str, ...], background: bool, bundle: Path | None, database_url: str | None
    ) -> None:
        """Refine NAMES with pseudo-labels of confident photos, kept only where that helps."""
        teacher = _teacher(database_url, bundle)
        result = _run_job(teacher, "grow", list(names), background)
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
    @click.option("--head", default=None, help="Explain this head of the bundle.")
    @click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path),
        required=True,
        help="PNG to write: the photo with a heat-map of where the model looked.",
    )
    @_bundle_option
    @database_url_option
    def explain(
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

        settings = get_settings()
        loaded = Bundle.load(bundle or settings.model.bundle)
        try:
            if category_name:
                teacher = _teacher(database_url, bundle)
                with teacher.factory() as s:
                    active = store.active_version(s, store.get_category(s, category_name))
                    if active is None:
                        _fail(RuntimeError(f"category {category_name!r} has no head yet"))
                    the_head = store.head_of(active)
            else:
                the_head = loaded.head(head or settings.model.head)
            image = load_photo(photo, max_side=512, digest=False).image
            result = Explainer(loaded).heatmap(image, the_head)
        except (CategoryError, PhotoError, KeyError) as exc:
            _fail(exc)
        output.write_bytes(overlay_png(image, result["map"]))
        click.echo(f"{result['label']} ({result['probability']:.2f}): wrote {output}")

    @category.command("explain-setup")
    @_bundle_option
    def explain_setup(bundle: Path | None) -> None:
        """Write the bundle's features.onnx (needs the train extra's onnx package)."""
        from smartalbum.categories.explain import write_features_model
        from smartalbum.model.bundle import DEFAULT_BUNDLE_DIR

        try:
            import onnx  # noqa: F401
        except ImportError:
            raise click.UsageError(
                "explain-setup needs the onnx package (the train extra)"
            ) from None
        target = bundle or get_settings().model.bundle or DEFAULT_BUNDLE_DIR
        try:
            path = write_features_model(target)
        except CategoryError as exc:
            _fail(exc)
        click.echo(f"wrote {path} ({path.stat().st_size // 1024} KB)")

    def _retrain(
        names: tuple[str, ...],
        background: bool,
        fmt: str,
        strict: bool,
        bundle: Path | None,
        database_url: str | None,
    ) -> None:
        teacher = _teacher(database_url, bundle)
        result = _run_job(teacher, "retrain", list(names), background)
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

    retrain_options = [
        click.argument("names", nargs=-1),
        click.option("--background", is_flag=True, help="Run as a job on the workers."),
        _format_option,
        click.option("--strict", is_flag=True, help="Exit 2 when a retrain was refused."),
        _bundle_option,
        database_url_option,
    ]

    def with_options(fn: Any) -> Any:
        for option in reversed(retrain_options):
            fn = option(fn)
        return fn

    @category.command("retrain")
    @with_options
    def category_retrain(**kwargs: Any) -> None:
        """Retrain NAMES (default: all) from examples and corrections; a new head replaces
        the old only when at least as good on held-back labels."""
        _retrain(**kwargs)

    @main.command("retrain")
    @with_options
    def retrain(**kwargs: Any) -> None:
        """Retrain categories from the user's corrections (see `category retrain`)."""
        _retrain(**kwargs)
