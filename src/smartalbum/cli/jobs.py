"""``smartalbum worker`` and ``smartalbum jobs``; ``index --background/--wait`` calls
:func:`run_background_index`."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from smartalbum.cli.context import AppContext, pass_app
from smartalbum.cli.options import json_option, limit_option


def run_background_index(
    app: AppContext, paths: list[str], heads: list[str] | None, wait: bool
) -> None:
    """Submit an index job; print its id, or with ``wait`` show a live progress bar and
    exit 1 when the job failed or some photos could not be indexed."""
    from tqdm import tqdm

    from smartalbum.jobs import store
    from smartalbum.jobs.submit import submit_index
    from smartalbum.jobs.submit import wait as wait_for

    factory = app.catalog()
    job_id = submit_index(app.settings, factory, paths, heads=heads)
    if not wait:
        click.echo(job_id)
        return
    click.echo(f"job {job_id} submitted; waiting (Ctrl-C stops waiting, not the job)", err=True)
    bar = tqdm(unit="photo", file=sys.stderr, disable=not sys.stderr.isatty())

    def update(job) -> None:  # noqa: ANN001
        if job.total is not None and bar.total != job.total:
            bar.total = job.total
            bar.refresh()
        bar.n = job.done
        bar.set_postfix(errors=job.errors, status=job.status)

    try:
        job = wait_for(factory, job_id, on_update=update)
    finally:
        bar.close()
    click.echo(_line(store.job_to_dict(job, stall_after_s=app.settings.jobs.stall_after_s)))
    if job.status != "done" or job.errors:
        sys.exit(1)


def _line(d: dict[str, Any]) -> str:
    """One job per line; a stalled job says so and for how long, and shows no ETA."""
    total = "?" if d["total"] is None else d["total"]
    rate = f"{d['rate']:.1f}/s" if d["rate"] else "-"
    eta = f"{d['eta_s']:.0f}s" if d["eta_s"] is not None else "-"
    status = d["status"]
    if d.get("stalled"):
        status = "stalled"
        eta = f"- (no progress for {d['idle_s']:.0f}s)"
    paths = ",".join(d["params"].get("paths", []))
    return (
        f"{d['id']}  {d['kind']:<6} {status:<9} {d['done']}/{total}  errors {d['errors']}"
        f"  {rate}  eta {eta}  {paths}"
    )


@click.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=None,
    help="Tasks at once (default: SMARTALBUM_JOBS__CONCURRENCY, 1).",
)
@click.option(
    "--loglevel", default=None, help="Lowest level logged (default: SMARTALBUM_LOG__LEVEL, WARNING)."
)
@click.option(
    "--check",
    is_flag=True,
    help="Do not run a worker: exit 0 when a worker on this data dir is alive (a fresh "
    "heartbeat, its broker answering), else 1. For container healthchecks.",
)
@pass_app
def worker(app: AppContext, concurrency: int | None, loglevel: str | None, check: bool) -> None:
    """Run a Celery worker taking Smart Album's jobs (any number, on any machine that
    sees the same broker, catalog and photo paths)."""
    if check:
        from smartalbum.jobs.liveness import check as check_liveness

        alive = check_liveness(app.settings)
        click.echo(alive.message, err=not alive.ok)
        sys.exit(0 if alive.ok else 1)
    from celery.signals import setup_logging

    from smartalbum.jobs.app import QUEUE, make_celery
    from smartalbum.library import db
    from smartalbum.logs import configure_logging

    level = (loglevel or app.settings.log.level).upper()
    configure_logging(app.settings, level)

    def keep_our_logging(**_: Any) -> None:  # a receiver: Celery leaves logging alone
        configure_logging(app.settings, level)

    setup_logging.connect(keep_our_logging, weak=False)
    celery = make_celery(app.settings)
    app.catalog()  # fail fast (and upgrade the schema) before taking tasks
    db.dispose_all()
    n = concurrency or app.settings.jobs.concurrency
    celery.worker_main(
        [
            "worker",
            "-Q",
            QUEUE,
            "--concurrency",
            str(n),
            "--pool",
            "solo" if n == 1 else "prefork",
            "--loglevel",
            level,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"smartalbum-{os.getpid()}@%h",
        ]
    )


@click.command("jobs")
@json_option(help="One JSON object per line.")
@limit_option(type=click.IntRange(1, 10_000), default=20)
@click.option("--cancel", "cancel", metavar="JOB_ID", default=None, help="Cancel a job.")
@pass_app
def jobs(app: AppContext, as_json: bool, limit: int, cancel: str | None) -> None:
    """List background jobs and their progress (newest first), or cancel one.

    A running job with no progress for SMARTALBUM_JOBS__STALL_AFTER_S shows as
    ``stalled`` (its workers died or hang), with no ETA."""
    from smartalbum.jobs import store

    factory = app.catalog()
    stall = app.settings.jobs.stall_after_s
    if cancel:
        job = store.cancel_job(factory, cancel)
        if job is None:
            raise click.UsageError(f"no job {cancel}")
        click.echo(_line(store.job_to_dict(job, stall_after_s=stall)))
        return
    rows = [
        store.job_to_dict(j, stall_after_s=stall) for j in store.list_jobs(factory, limit=limit)
    ]
    for d in rows:
        click.echo(json.dumps(d) if as_json else _line(d))
    if not rows and not as_json:
        click.echo("no jobs")
