"""The model card (``card.md``): what a bundle was trained on, under which terms, how well it
does and where it fails. Torch-free.

Data sources and their terms are read from the dataset's photo root or its parents: a
``MANIFEST*.csv`` (columns ``cls`` and ``source_repo``) says which upstream dataset each
class came from, and a ``licenses/`` folder holds each source's licence or terms (one
sub-folder per source, ``owner__name``). A card never claims terms it could not find: a
source without a licence file is listed as such.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

LICENCE_NAMES = ("license", "licence", "copying", "terms", "license_agreement")


def find_data_docs(source: Path | None, depth: int = 2) -> tuple[Path | None, list[Path]]:
    """The ``licenses/`` folder and ``MANIFEST*.csv`` files at ``source`` or up to ``depth``
    parents above it."""
    if source is None:
        return None, []
    licenses: Path | None = None
    manifests: list[Path] = []
    d = Path(source)
    for _ in range(depth + 1):
        if licenses is None and (d / "licenses").is_dir():
            licenses = d / "licenses"
        if not manifests:
            manifests = sorted(d.glob("MANIFEST*.csv")) + sorted(d.glob("MANIFEST"))
        if d.parent == d:
            break
        d = d.parent
    return licenses, manifests


def manifest_sources(manifests: list[Path], labels: list[str]) -> dict[str, Counter[str]]:
    """source repository -> photos per class, for the classes this model knows."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    wanted = set(labels)
    for m in manifests:
        try:
            with m.open(newline="") as f:
                for row in csv.DictReader(f):
                    cls, src = row.get("cls") or row.get("label"), row.get("source_repo")
                    if cls in wanted and src:
                        out[src][cls] += 1
        except (OSError, csv.Error, UnicodeDecodeError):
            continue
    return dict(out)


def licence_excerpt(folder: Path, limit: int = 240) -> tuple[str, list[str]]:
    """First lines of a source's licence file, and the names of all its files."""
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    primary = next(
        (folder / f for f in files if Path(f).stem.lower().startswith(LICENCE_NAMES)), None
    )
    if primary is None and files:
        primary = folder / files[0]
    if primary is None:
        return "", files
    try:
        text = primary.read_text(errors="replace")
    except OSError:
        return "", files
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    excerpt = " ".join(lines)
    if len(excerpt) > limit:
        excerpt = excerpt[:limit].rsplit(" ", 1)[0] + " ..."
    return excerpt, files


def data_section(source: Path | None, labels: list[str]) -> str:
    """Markdown: where the training photos came from and under which terms."""
    licenses, manifests = find_data_docs(source)
    lines = ["## Training data", ""]
    if source is not None:
        lines.append(f"Photos from `{Path(source).name}/` (the files are not part of the bundle).")
        lines.append("")
    sources = manifest_sources(manifests, labels)
    lic_dirs = {p.name: p for p in sorted(licenses.iterdir()) if p.is_dir()} if licenses else {}
    if sources:
        lines += ["| source | classes (photos) | terms |", "|---|---|---|"]
        for src in sorted(sources):
            classes = ", ".join(f"{c} ({n})" for c, n in sorted(sources[src].items()))
            folder = lic_dirs.get(src.replace("/", "__"))
            terms = "no licence file found; see the upstream repository"
            if folder is not None:
                excerpt, _files = licence_excerpt(folder)
                terms = f"`licenses/{folder.name}/`: {excerpt}" if excerpt else "see folder"
            lines.append(f"| {src} | {classes} | {terms.replace('|', '/')} |")
        lines.append("")
    elif lic_dirs:
        lines.append("Licences and terms found beside the data:")
        lines.append("")
        for name, folder in lic_dirs.items():
            excerpt, _ = licence_excerpt(folder)
            lines.append(f"- **{name}**: {excerpt or 'see folder'}")
        lines.append("")
    else:
        lines += ["No MANIFEST or licenses/ folder was found beside the training photos: the",
                  "terms of the data are unknown; check them before sharing this model.", ""]
    lines += ["The photos are used for research and evaluation under their sources' terms; a",
              "redistributed model must keep this card.", ""]
    return "\n".join(lines)


def metrics_section(heads: dict[str, dict[str, Any]]) -> str:
    lines = ["## Metrics (test split, measured with the shipped ONNX backbone)", ""]
    for name, h in heads.items():
        test = h.get("test", {}).get("metrics") or h.get("test") or {}
        if not test:
            continue
        lines.append(f"### Head `{name}`: {', '.join(h['labels'])}")
        lines.append("")
        lines.append(
            f"accuracy {test['accuracy']:.3f}, macro-F1 {test['macro_f1']:.3f}, "
            f"ECE {test['ece']:.3f} on {test['n']} photos; temperature "
            f"{h['temperature']:.3f}, uncertain below {h['threshold']:.2f}"
            + (f" ({test['coverage']:.1%} of photos accepted, "
               f"{test['accepted_accuracy']:.3f} of those right)" if "coverage" in test else "")
        )
        lines += ["", "| class | precision | recall | F1 | photos |", "|---|---|---|---|---|"]
        for lab, c in test["per_class"].items():
            lines.append(f"| {lab} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} "
                         f"| {c['support']} |")
        lines.append("")
    return "\n".join(lines)


def _kv(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items() if v not in (None, {}, []))


def build_card(
    *,
    name: str,
    arch: str,
    spec: dict[str, Any],
    backbone: dict[str, Any],
    heads: dict[str, dict[str, Any]],
    source: Path | None,
    training: dict[str, Any],
    extra: str = "",
) -> str:
    """The whole card as Markdown."""
    all_labels = sorted({lab for h in heads.values() for lab in h["labels"]})
    pf = backbone.get("parity_fp32") or backbone.get("parity") or {}
    p8 = backbone.get("parity") if backbone.get("precision") == "int8" else None
    agreement = backbone.get("int8_head_agreement") or {}
    parity_lines = [
        f"- fp32 export vs torch: embedding max |diff| {pf.get('max_abs_diff', float('nan')):.1e}, "
        f"ImageNet top-1 agreement {pf.get('top1_agreement', float('nan')):.3f}"
    ]
    if p8:
        parity_lines.append(
            f"- int8 vs torch: embedding max |diff| {p8.get('max_abs_diff', float('nan')):.2f} "
            f"(mean {p8.get('mean_abs_diff', float('nan')):.3f}), ImageNet top-1 agreement "
            f"{p8.get('top1_agreement', float('nan')):.3f}; head labels agree with fp32 on "
            + ", ".join(f"{k} {v:.1%}" for k, v in agreement.items())
        )
    lines = [
        f"# Model card: {name}",
        "",
        "## What it does",
        "",
        "Sorts photos into the classes of its heads. A frozen, ImageNet-pretrained "
        f"`{arch}` backbone turns each photo into a {backbone.get('embedding_dim')}-d "
        "embedding; each head is a small classifier over it, calibrated by temperature "
        "scaling, with a confidence threshold below which a photo is marked `uncertain` "
        "(for review) instead of being filed.",
        "",
        "## Model",
        "",
        f"- backbone: {arch}, ONNX opset {backbone.get('opset', '?')}, precision "
        f"**{backbone.get('precision')}** ({backbone.get('precision_reason', '')})",
        *parity_lines,
        f"- preprocessing (`preprocess.json`): {_kv(spec)}",
        f"- training: {_kv(training)}",
        "",
        data_section(source, all_labels),
        metrics_section(heads),
        "## Limits",
        "",
        "- It only knows its classes: a photo of anything else gets the closest one, or "
        "`uncertain` when the head is not confident enough.",
        "- It inherits the biases of its training photos (who and what they show, where "
        "and with which cameras they were taken); test metrics come from the same sources "
        "and overstate accuracy on a real, mixed album.",
        "- Confidence is calibrated on the validation split; it drifts on photos unlike it.",
        "",
    ]
    if extra:
        lines += ["## Notes", "", extra.strip(), ""]
    return "\n".join(lines)
