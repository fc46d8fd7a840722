"""``smartalbum serve``: the web page and JSON API on waitress (or gunicorn workers), with a
background-jobs worker beside it unless ``--no-worker``."""

from __future__ import annotations

import click

from smartalbum.cli.context import AppContext, pass_app


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 for every interface).",
)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option(  # request threads, not the model's (--threads of classify/index)
    "--threads",
    type=click.IntRange(1, 256),
    default=None,
    help="Request threads per process (default: SMARTALBUM_WEB__THREADS, 8).",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=None,
    help="Server processes (default: SMARTALBUM_WEB__PROCESSES, else one per core).",
)
@click.option(
    "--no-worker",
    is_flag=True,
    help="Web side only: background jobs are left to `smartalbum worker` processes.",
)
@click.option(
    "--allow-open",
    is_flag=True,
    help="Serve on a non-loopback --host without an API key or SMARTALBUM_JOBS__ROOTS "
    "(anyone who reaches it may use the API and its jobs may read any path).",
)
@pass_app
def serve(
    app: AppContext,
    host: str,
    port: int,
    threads: int | None,
    processes: int | None,
    no_worker: bool,
    allow_open: bool,
) -> None:
    """Run the web page and JSON API (http://127.0.0.1:5000/ by default), and a
    background-jobs worker beside it unless --no-worker."""
    from smartalbum.model.bundle import BundleError
    from smartalbum.web import server

    settings = app.settings
    if allow_open:
        settings = settings.model_copy(
            update={"web": settings.web.model_copy(update={"allow_open": True})}
        )
    try:
        server.serve(
            settings,
            host=host,
            port=port,
            threads=threads,
            processes=processes,
            worker=not no_worker,
        )
    except (BundleError, ValueError) as exc:  # the message says which step failed
        raise click.UsageError(f"cannot start: {exc}") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc}") from exc
