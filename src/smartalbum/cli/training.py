"""Training commands: ``dataset prepare``, ``train``, ``evaluate``, ``export``.

Importing this module imports neither torch nor albumentations: the commands import what
they need in their bodies, so the main CLI starts fast and a serving-only install still
lists them. ``dataset prepare``, ``evaluate`` and ``export --mobile`` need no torch at all;
``train`` and ``export`` print how to install the ``train`` extra when torch is missing
(exit code 2). Bad input becomes a ``click.UsageError`` (exit 2), never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from smartalbum.cli.context import AppContext, pass_app
from smartalbum.cli.errors import CommandError, unknown_head_is_usage_error, usage_error_on
from smartalbum.cli.options import (
    SharedOption,
    bundle_option,
    format_option,
    head_option,
    workers_option,
)
from smartalbum.errors import EXIT_USAGE

TORCH_MISSING = (
    "this command needs the training extra (torch), which is not installed.\n"
    "install the train extra: pip install torch==2.13.0 && pip install 'smart-album[train]'"
)

#: ``--weights``: a local weights file for the backbone (``train`` and ``export``).
_weights_option = SharedOption("--weights", type=click.Path(path_type=Path), default=None)


def _require_torch() -> None:
    try:
        import albumentations  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        raise CommandError(TORCH_MISSING, EXIT_USAGE) from None


def _parse_heads(values: tuple[str, ...]) -> dict[str, list[str] | None] | None:
    """``NAME=label1,label2`` (or ``NAME`` alone for all labels) -> {name: labels}."""
    if not values:
        return None
    heads: dict[str, list[str] | None] = {}
    for v in values:
        name, _, labels = v.partition("=")
        name = name.strip()
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise click.BadParameter(f"{v!r}: expected NAME=label1,label2", param_hint="--head")
        if name in heads:
            raise click.BadParameter(f"head {name!r} given twice", param_hint="--head")
        labs = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
        if labs is not None and len(labs) < 2:
            raise click.BadParameter(
                f"{v!r}: a head needs at least two labels", param_hint="--head"
            )
        heads[name] = labs
    return heads


@click.group("dataset")
def dataset() -> None:
    """Prepare labelled photo folders for training."""


@dataset.command("prepare")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--val",
    type=click.FloatRange(0, 0.9),
    default=0.15,
    show_default=True,
    help="Share of each class for validation.",
)
@click.option(
    "--test",
    type=click.FloatRange(0, 0.9),
    default=0.15,
    show_default=True,
    help="Share of each class for the test split.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Split seed.")
@click.option(
    "--near-dup-bits",
    type=click.IntRange(0, 32),
    default=6,
    show_default=True,
    help="pHash distance at or below which two photos are near-duplicates.",
)
@click.option(
    "--keep-near-duplicates",
    is_flag=True,
    help="Keep near-duplicates (in one split) instead of dropping them.",
)
@workers_option(type=click.IntRange(1, 32))
def dataset_prepare(
    src: Path,
    out: Path,
    val: float,
    test: float,
    seed: int,
    near_dup_bits: int,
    keep_near_duplicates: bool,
    workers: int,
) -> None:
    """Check, deduplicate and split the photos in SRC; write OUT/dataset.csv and report.json.

    SRC holds one folder per class (SRC/<label>/*.jpg) or files named <label>_<any>.jpg.
    The photos themselves are never copied or changed.
    """
    from smartalbum.training.data import prepare_dataset

    if not src.is_dir():
        raise click.UsageError(f"no such folder: {src}")
    if val + test >= 1:
        raise click.UsageError("--val and --test together must leave photos for training")
    with usage_error_on(FileNotFoundError, ValueError):
        report = prepare_dataset(
            src,
            out,
            val=val,
            test=test,
            seed=seed,
            near_dup_bits=near_dup_bits,
            keep_near_duplicates=keep_near_duplicates,
            workers=workers,
            progress=sys.stderr.isatty(),
            echo=False,
        )
    click.echo(report.table())
    click.echo(report.summary())
    click.echo(f"wrote {out / 'dataset.csv'} and {out / 'report.json'}")


@click.command("train")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    help="Bundle directory to write (replaced atomically).",
)
@click.option(
    "--arch",
    default="efficientnet-lite0",
    show_default=True,
    help="Backbone: efficientnet-lite0 or resnet18.",
)
@_weights_option(help="Local weights file (required for resnet18).")
@click.option(
    "--size",
    type=click.IntRange(32, 1024),
    default=None,
    help="Network input side (default: the arch's, 224).",
)
@click.option(
    "--unfreeze",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="Fine-tune the last K blocks end-to-end before fitting heads.",
)
@click.option(
    "--views",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Augmented views per training photo (plus one plain view).",
)
@click.option("--epochs", type=click.IntRange(1, 1000), default=30, show_default=True)
@head_option(
    dest="heads",
    multiple=True,
    metavar="NAME=l1,l2",
    help="A head over some labels (repeatable); default: one head over all.",
)
@click.option("--default-head", default=None, help="Head the bundle uses by default.")
@click.option(
    "--hidden",
    type=click.IntRange(1, 4096),
    default=None,
    help="Hidden units: a 1-hidden-layer MLP head instead of a linear one.",
)
@click.option(
    "--strength",
    type=click.FloatRange(0, 3),
    default=1.0,
    show_default=True,
    help="Augmentation strength (0 = none).",
)
@click.option("--no-quantize", is_flag=True, help="Ship the fp32 backbone; skip int8.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--name", default=None, help="Bundle name (default: the folder name).")
@click.option(
    "--fitter",
    type=click.Choice(["seed", "logreg"]),
    default="seed",
    show_default=True,
    help="seed = torch linear head (Adam, StepLR, early stopping); "
    "logreg = scikit-learn logistic regression (the default model's recipe).",
)
@click.option(
    "--concepts",
    is_flag=True,
    help="Add ImageNet concept scores to the head's input (needs --fitter logreg).",
)
@click.option(
    "--equalize",
    type=click.Choice(["none", "luma", "clahe"]),
    default=None,
    help="Luminance equalisation in the preprocessing spec (default: the arch's).",
)
def train(
    dataset: Path,
    out: Path,
    arch: str,
    weights: Path | None,
    size: int | None,
    unfreeze: int,
    views: int,
    epochs: int,
    heads: tuple[str, ...],
    default_head: str | None,
    hidden: int | None,
    strength: float,
    no_quantize: bool,
    seed: int,
    name: str | None,
    fitter: str,
    concepts: bool,
    equalize: str | None,
) -> None:
    """Train heads on a prepared DATASET and write a model bundle."""
    parsed = _parse_heads(heads)
    if not (dataset / "dataset.csv").is_file():
        raise click.UsageError(
            f"{dataset} is not a prepared dataset (no dataset.csv); "
            "run `smartalbum dataset prepare SRC OUT` first"
        )
    _require_torch()
    from smartalbum.training.backbones import ARCHS, default_spec, weights_required
    from smartalbum.training.fit import train_bundle

    if arch not in ARCHS:
        raise click.UsageError(f"unknown --arch {arch!r}; choose from {', '.join(ARCHS)}")
    if weights_required(arch) and weights is None:
        raise click.UsageError(f"--arch {arch} needs --weights PATH (nothing is downloaded)")
    if weights is not None and not weights.is_file():
        raise click.UsageError(f"weights file not found: {weights}")
    overrides: dict[str, object] = {}
    if size:
        overrides["size"] = size
    if equalize:
        overrides["equalize"] = equalize
    spec = default_spec(arch, **overrides)
    if concepts and fitter != "logreg":
        raise click.UsageError("--concepts needs --fitter logreg")
    with usage_error_on(FileNotFoundError, ValueError):
        bundle = train_bundle(
            dataset,
            out,
            arch=arch,
            weights=weights,
            spec=spec,
            heads=parsed,
            default_head=default_head,
            views=views,
            unfreeze=unfreeze,
            epochs=epochs,
            quantize=not no_quantize,
            strength=strength,
            seed=seed,
            name=name,
            head_options={"hidden": hidden} if hidden else None,
            head_fitter=fitter,
            concepts=concepts,
            progress=sys.stderr.isatty(),
        )
    click.echo(f"wrote bundle {bundle.path} ({bundle.backbone.get('precision')} backbone)")
    for h, m in bundle.metrics.get("heads", {}).items():
        test = m.get("test")
        score = (
            f"test accuracy {test['accuracy']:.3f}, macro-F1 {test['macro_f1']:.3f}"
            if test
            else "no test split"
        )
        click.echo(f"  head {h}: {', '.join(m['labels'])}: {score}")


@click.command("evaluate")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("dataset", type=click.Path(path_type=Path))
@head_option(help="Head to score (default: the bundle's default).")
@click.option(
    "--split",
    type=click.Choice(["test", "val", "train", "all"]),
    default="test",
    show_default=True,
    help="Split of a prepared dataset (a plain folder: all).",
)
@format_option(["table", "json"])
def evaluate(bundle: Path, dataset: Path, head: str | None, split: str, fmt: str) -> None:
    """Score BUNDLE on DATASET (a prepared dataset or a labelled folder), with ONNX Runtime."""
    from smartalbum.training.evaluate import evaluate_bundle, format_evaluation

    if not dataset.exists():
        raise click.UsageError(f"no such dataset or folder: {dataset}")
    # a BundleError reaches the top group's handler (exit 2)
    with usage_error_on(FileNotFoundError, ValueError), unknown_head_is_usage_error():
        result = evaluate_bundle(
            bundle,
            dataset,
            head,
            split=None if split == "all" else split,
            progress=sys.stderr.isatty(),
        )
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(format_evaluation(result))


@click.command("export")
@click.argument("bundle", type=click.Path(path_type=Path), required=False)
@click.option(
    "--mobile",
    "mobile_out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a mobile bundle (ORT model, heads/preprocess JSON, reference "
    "program) to this folder instead; needs no torch (docs/mobile.md).",
)
@bundle_option(
    dest="bundle_opt", help="With --mobile: the bundle to export (default: the installed one)."
)
@click.option("--arch", default=None, help="Arch (default: the bundle's).")
@_weights_option(help="Weights file (fine-tuned bundles, resnet18).")
@click.option(
    "--photos",
    type=click.Path(path_type=Path),
    default=None,
    help="Photos for calibration and checks (default: the bundle's dataset).",
)
@click.option("--no-quantize", is_flag=True, help="Only fp32.")
@click.option(
    "--check", is_flag=True, help="Only compare the bundle's backbone with torch; write nothing."
)
@pass_app
def export(
    app: AppContext,
    bundle: Path | None,
    mobile_out: Path | None,
    bundle_opt: Path | None,
    arch: str | None,
    weights: Path | None,
    photos: Path | None,
    no_quantize: bool,
    check: bool,
) -> None:
    """Re-export BUNDLE's ONNX backbone from the arch's weights (fp32 + int8), with checks.

    With --mobile OUT: write BUNDLE (or --bundle, default: the installed one) as a
    mobile bundle instead, without torch.
    """
    if mobile_out is not None:
        _export_mobile(mobile_out, bundle_opt or bundle or app.settings.model.bundle)
        return
    if bundle is None:
        raise click.UsageError("missing BUNDLE (or use --mobile OUT)")
    if not (bundle / "bundle.json").is_file():
        raise click.UsageError(f"{bundle} is not a model bundle (no bundle.json)")
    if photos is not None and not photos.exists():
        raise click.UsageError(f"no such folder: {photos}")
    _require_torch()
    from smartalbum.training.export import refresh_bundle

    with usage_error_on(FileNotFoundError, ValueError):  # BundleError: the top handler
        report = refresh_bundle(
            bundle,
            arch=arch,
            weights=weights,
            photos=photos,
            quantize=not no_quantize,
            check_only=check,
        )
    p = report["parity"]
    src = f"{report['n']} {'photos' if report['real_photos'] else 'random inputs'}"
    click.echo(
        f"backbone {report['arch']} ({report['precision']}) vs torch on {src}: "
        f"max |diff| {p['max_abs_diff']:.2e}, mean |diff| {p['mean_abs_diff']:.2e}, "
        f"top-1 agreement {p['top1_agreement']:.3f}"
    )
    pf = report["parity_fp32"]
    click.echo(
        f"fresh fp32 export vs torch: max |diff| {pf['max_abs_diff']:.2e}, "
        f"top-1 agreement {pf['top1_agreement']:.3f}"
    )
    if report.get("head_agreement"):
        click.echo(
            "head agreement with fp32: "
            + ", ".join(f"{k} {v:.3f}" for k, v in report["head_agreement"].items())
        )
    if check:
        click.echo("check passed" if report["ok"] else "check FAILED")
        if not report["ok"]:
            raise SystemExit(1)
    else:
        click.echo(f"wrote {bundle / 'backbone.onnx'}: {report['precision_reason']}")


def _export_mobile(out: Path, bundle: Path | None) -> None:
    """Write the mobile bundle and print what was written (needs ONNX Runtime and numpy,
    never torch or the ``onnx`` package); MobileExportError exits 2 (the top group)."""
    from smartalbum.mobile.export import export_mobile

    result = export_mobile(out, bundle)
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
