"""``smartalbum classify`` and ``smartalbum info``: the serving commands.

Serving commands (classify, info, serve) import only numpy/OpenCV/Pillow/onnxruntime;
training commands import torch inside their bodies, so a serving-only install still
starts fast and prints a clear message when a training command needs the ``train`` extra.

Exit codes: 0 success; 1 some photos could not be read (the others were still
classified); 2 bad usage or input (no photos found, unknown head, unreadable bundle).
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

import click

from smartalbum import __version__
from smartalbum.cli.context import AppContext, pass_app
from smartalbum.cli.errors import unknown_head_is_usage_error, usage_error_on
from smartalbum.cli.options import (
    bundle_option,
    format_option,
    head_option,
    threads_option,
    workers_option,
)

EXIT_SOME_FAILED = 1


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-r", "--recursive", is_flag=True, help="Descend into folders.")
@head_option
@format_option(["table", "json", "csv"])
@workers_option
@threads_option
@bundle_option
@pass_app
def classify(
    app: AppContext,
    paths: tuple[Path, ...],
    recursive: bool,
    head: str | None,
    fmt: str,
    workers: int,
    threads: int | None,
    bundle: Path | None,
) -> None:
    """Classify photos: one result per photo, then a summary per class."""
    from tqdm import tqdm

    from smartalbum.imaging.files import explain_nothing_found, find_photos
    from smartalbum.model.pipeline import classify_files

    with usage_error_on(FileNotFoundError):
        files = find_photos(list(paths), recursive=recursive)
    if not files:
        raise click.UsageError(explain_nothing_found(paths, recursive))
    engine = app.engine(bundle, threads)
    head = head or app.settings.model.head
    with unknown_head_is_usage_error():
        head_obj = engine.head(head)

    out = sys.stdout
    writer = None
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(["path", "label", "confidence", "uncertain", *head_obj.labels, "error"])
    elif fmt == "table":
        width = min(60, max(len(str(f)) for f in files))
        click.echo(f"{'photo':<{width}}  {'label':<14} {'conf':>5}  note")

    counts: Counter[str] = Counter()
    failed = 0
    bar = tqdm(total=len(files), unit="photo", disable=not sys.stderr.isatty(), file=sys.stderr)
    for result in classify_files(
        files, engine, head=head_obj.name, workers=workers, hash_files=False
    ):
        bar.update(1)
        p = result.prediction
        if p is None:
            failed += 1
        else:
            counts["uncertain" if p.uncertain else p.label] += 1
        if fmt == "json":
            out.write(json.dumps(result.to_dict()) + "\n")
        elif fmt == "csv":
            assert writer is not None
            err = result.error.code if result.error else ""
            probs = (
                [f"{p.probabilities[k]:.4f}" for k in head_obj.labels]
                if p
                else [""] * len(head_obj.labels)
            )
            writer.writerow(
                [
                    str(result.path),
                    p.label if p else "",
                    f"{p.confidence:.4f}" if p else "",
                    p.uncertain if p else "",
                    *probs,
                    err,
                ]
            )
        else:
            name = _shorten(str(result.path), width)
            if p is None:
                assert result.error is not None
                bar.write(f"{name:<{width}}  {'ERROR':<14} {'':>5}  {result.error}", file=out)
            else:
                note = "uncertain" if p.uncertain else ""
                if result.facts is not None and result.facts.damage:
                    note = f"{note} damaged: {result.facts.damage}".strip()
                bar.write(f"{name:<{width}}  {p.label:<14} {p.confidence:5.2f}  {note}", file=out)
        out.flush()
    bar.close()

    summary = _summary(counts, failed, len(files), head_obj.labels)
    click.echo(summary, err=fmt != "table")
    if failed:
        sys.exit(EXIT_SOME_FAILED)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _summary(counts: Counter[str], failed: int, total: int, labels: list[str]) -> str:
    parts = [f"{lab}: {counts[lab]}" for lab in labels if counts[lab]]
    if counts["uncertain"]:
        parts.append(f"uncertain (review): {counts['uncertain']}")
    if failed:
        parts.append(f"unreadable: {failed}")
    return f"{total} photos — " + (", ".join(parts) if parts else "nothing classified")


@click.command()
@bundle_option
@format_option()
@pass_app
def info(app: AppContext, bundle: Path | None, fmt: str) -> None:
    """Show the installed model bundle, its heads and their metrics."""
    from smartalbum.model.bundle import Bundle

    b = Bundle.load(bundle or app.settings.model.bundle)  # BundleError: the CLI's handler
    data = {
        "smartalbum": __version__,
        "bundle": {"name": b.name, "path": str(b.path), "version": b.version},
        "backbone": {k: v for k, v in b.backbone.items() if k != "parity"},
        "preprocess": b.preprocess.model_dump(),
        "default_head": b.default_head,
        "heads": {
            name: {
                "labels": h.labels,
                "threshold": h.threshold,
                "temperature": h.temperature,
                "metrics": b.metrics.get(name, h.metrics),
            }
            for name, h in b.heads.items()
        },
    }
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"Smart Album {__version__}")
    click.echo(f"bundle   {b.name}  version {b.version}\n         {b.path}")
    bb = data["backbone"]
    click.echo(
        f"backbone {bb.get('arch')} ({bb.get('precision')}, {bb.get('embedding_dim')}-d embedding)"
    )
    click.echo("preprocess " + ", ".join(f"{k}={v}" for k, v in data["preprocess"].items()))
    for name, h in data["heads"].items():
        star = " (default)" if name == b.default_head else ""
        click.echo(f"head {name}{star}: {', '.join(h['labels'])}; threshold {h['threshold']:.2f}")
        for key in ("accuracy", "macro_f1", "ece"):
            value = _metric(h["metrics"], key)
            if value is not None:
                click.echo(f"    {key:<9} {value:.4f}")


def _metric(metrics: dict, key: str) -> float | None:
    """A head metric, whether stored flat or under a split name (test, then val)."""
    if isinstance(metrics.get(key), int | float):
        return float(metrics[key])
    for split in ("test", "val"):
        sub = metrics.get(split)
        if isinstance(sub, dict) and isinstance(sub.get(key), int | float):
            return float(sub[key])
    return None
