"""``smartalbum export --mobile OUT``: the command body, shared by the export command.

Kept apart from training/cli.py so the mobile export runs in a serving-only install: it
needs ONNX Runtime and numpy, never torch or the ``onnx`` package.
"""

from __future__ import annotations

from pathlib import Path

import click


def run_mobile_export(out: Path, bundle: Path | None) -> None:
    """Write the mobile bundle and print what was written; errors exit with code 2."""
    from smartalbum.config import get_settings
    from smartalbum.mobile.export import MobileExportError, export_mobile

    try:
        result = export_mobile(out, bundle or get_settings().model.bundle)
    except MobileExportError as exc:
        raise click.UsageError(str(exc)) from exc
    m = result.manifest
    bb = m["backbone"]
    click.echo(
        f"wrote mobile bundle {result.path} ({m['name']}, from bundle version "
        f"{m['source_bundle']['version']})"
    )
    for name, info in m["files"].items():
        click.echo(f"  {name:<16} {info['bytes'] / 1e6:8.2f} MB")
    click.echo(
        f"backbone.ort ({bb['precision']}) vs ONNX: max |diff| "
        f"{max(bb['parity_vs_onnx'].values()):.2e}; "
        f"try it: python {result.path / 'reference.py'} {result.path} PHOTO"
    )
