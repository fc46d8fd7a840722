"""``smartalbum organize``: copy, link or move the catalog's photos into folders.

This module only parses options, prints the plan and the outcome; planning, the journaled
run, resume, rollback and the catalog sync are :mod:`smartalbum.organize`'s.

Exit codes: 0 success; 1 something was left undone (a failed photo, a rollback conflict,
a full disk); 2 bad usage (bad layout, unreadable journal, no catalog); 130 interrupted
(the journal's path is printed: ``--resume`` finishes the run).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from smartalbum.cli.context import AppContext, pass_app
from smartalbum.cli.options import (
    catalog_head_option,
    database_url_option,
    dry_run_option,
    layout_option,
)
from smartalbum.organize import DEFAULT_LAYOUT, MODES, Plan, Result

EXIT_INCOMPLETE = 1
EXIT_INTERRUPTED = 130
JOURNAL = click.Path(path_type=Path, dir_okay=False)


@click.command()
@click.option(
    "--into",
    type=click.Path(path_type=Path, file_okay=False),
    help="Target folder (required unless --resume/--rollback).",
)
@click.option(
    "--mode",
    type=click.Choice(list(MODES)),
    default="copy",
    show_default=True,
    help="move = copy, verify, then delete the source.",
)
@layout_option(
    show_default=DEFAULT_LAYOUT,
    help="Folders (and name) under --into: {label} {year} {month} {day} {camera} "
    "{place} {name} {ext}.",
)
@dry_run_option(help="Print the plan and stop; touch nothing.")
@click.option("--xmp", is_flag=True, help="Write the labels into name.ext.xmp sidecars.")
@click.option(
    "--resume", "resume_journal", type=JOURNAL, help="Finish the interrupted run of this journal."
)
@click.option("--rollback", "rollback_journal", type=JOURNAL, help="Undo the run of this journal.")
@click.option(
    "--new-run", is_flag=True, help="Start a new run even if an earlier one into DIR was cut short."
)
@click.option("--quiet", is_flag=True, help="Print only the summary, not every planned step.")
@catalog_head_option
@database_url_option
@pass_app
def organize(
    app: AppContext,
    into: Path | None,
    mode: str,
    layout: str | None,
    dry_run: bool,
    xmp: bool,
    resume_journal: Path | None,
    rollback_journal: Path | None,
    new_run: bool,
    quiet: bool,
    head: str | None,
    database_url: str | None,
) -> None:
    """Copy, link or move the catalog's photos into folders by label and date.

    The plan is printed first; existing files are never overwritten; every step is
    journaled in DIR so that an interrupted run can be resumed (--resume) or undone
    (--rollback). Uncertain photos go to DIR/review/.
    """
    import smartalbum.organize as org

    if resume_journal and rollback_journal:
        raise click.UsageError("--resume and --rollback cannot be combined")
    journal = resume_journal or rollback_journal

    def catalog() -> Any:  # the session factory, opened when first needed
        return app.catalog(database_url)

    if journal is not None:
        if into or layout or dry_run or xmp or mode != "copy":
            raise click.UsageError(
                "--resume/--rollback take their folder, mode, layout and --xmp from the journal"
            )
        if not journal.is_file():
            raise click.UsageError(f"no such journal: {journal}")
        undo = rollback_journal is not None
        with _bar(0, disable=undo) as bar:  # a rollback shows no bar, as before
            result = org.run(None, bar.update, journal=journal, undo=undo, catalog=catalog)
        _report(result, rollback=undo)
        return
    if into is None:
        raise click.UsageError("--into DIR is required (or --resume/--rollback JOURNAL)")
    if not dry_run and not new_run:
        org.check_no_interrupted_run(into)  # offers --resume (exit 2)

    plan = org.plan_from_catalog(catalog(), into, mode=mode, layout=layout, xmp=xmp, head=head)
    _print_plan(plan, quiet=quiet)
    if dry_run:
        click.echo("dry run: nothing was changed")
        return
    if not any(item.action != "skip" for item in plan.items) and not xmp:
        click.echo("nothing to do")
        return
    with _bar(len(plan.items)) as bar:
        try:
            result = org.run(plan, bar.update, catalog=catalog)
        except KeyboardInterrupt:
            journals = org.find_journals(plan.into)
            hint = f" --resume {journals[-1]}" if journals else ""
            click.echo(f"\ninterrupted; finish with: smartalbum organize{hint}", err=True)
            raise SystemExit(EXIT_INTERRUPTED) from None
    _report(result, rollback=False)


def _bar(total: int, *, disable: bool = False) -> Any:
    """A progress bar on stderr, only when that is a terminal (tqdm: a context manager)."""
    from tqdm import tqdm

    return tqdm(
        total=total, unit="photo", disable=disable or not sys.stderr.isatty(), file=sys.stderr
    )


def _print_plan(plan: Plan, *, quiet: bool) -> None:
    counts = plan.counts()
    if not quiet:
        for item in plan.items:
            note = f"  ({item.note})" if item.note else ""
            arrow = f" -> {item.dest}" if item.dest else ""
            click.echo(f"{item.action:<5} {item.source}{arrow}{note}")
    review = sum(1 for i in plan.items if i.review and i.action != "skip")
    click.echo(
        f"plan: {len(plan.items)} photos into {plan.into} ({plan.mode}"
        + (", with XMP sidecars" if plan.xmp else "")
        + "): "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + (f"; {review} uncertain to review/" if review else "")
    )


def _report(result: Result, *, rollback: bool) -> None:
    if result.catalog_warning:
        click.echo(f"warning: {result.catalog_warning}", err=True)
    parts = [f"{k} {v}" for k, v in sorted(result.counts.items()) if v]
    if result.failed:
        parts.append(f"failed {len(result.failed)}")
    click.echo(("rolled back: " if rollback else "done: ") + (", ".join(parts) or "nothing"))
    for item, error in result.failed:
        click.echo(f"  failed: {item.source}: {error}", err=True)
    for conflict in result.conflicts:
        click.echo(f"  left alone: {conflict}", err=True)
    if result.journal.exists():
        action = "undo with" if not rollback else "journal kept:"
        flag = " --rollback" if not rollback else ""
        click.echo(f"{action} smartalbum organize{flag} {result.journal}")
    if not result.ok:
        raise SystemExit(EXIT_INCOMPLETE)
