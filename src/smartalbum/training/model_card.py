"""The default bundle's model card: figures measured on photos from other sources.

:func:`smartalbum.training.card.build_card` describes a bundle trained on one prepared
dataset and its test split. The default bundle is judged on ``wild`` ``split=val`` (sources
it was never fitted on), so its card states those figures per class and per source, next
to the (optimistic, same-source) pool test, and names every training source with the terms
found in its ``licenses/`` folder. No absolute path of the building machine is written.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from smartalbum.model.bundle import Bundle
from smartalbum.training.card import LICENCE_NAMES, data_section, licence_excerpt


def _pct(x: float) -> str:
    return f"{x:.1%}"


def review_tables(name: str, h: dict[str, Any]) -> list[str]:
    """Markdown: one head's wild-val summary, per-class and per-source tables."""
    v, t = h["wild_val"], h["test"]
    lines = [
        f"### Head `{name}`: {', '.join(h['labels'])}",
        "",
        f"Wild val ({v['n']} photos of its classes, {v['none']['n']} `none` photos): accuracy "
        f"{v['accuracy']:.3f}, macro-F1 {v['macro_f1']:.3f}, ECE {v['ece']:.3f}; temperature "
        f"{h['temperature']:.2f}, `uncertain` below {h['threshold']:.3f}: "
        f"{_pct(v['review_share'])} sent to review, {v['sure_accuracy']:.3f} right among the "
        f"others; {_pct(v['none']['review_share'])} of `none` photos sent to review. Pool test "
        f"(held-out seventh of the pool, same sources as training): accuracy "
        f"{t['accuracy']:.3f} on {t['n']} photos.",
        "",
        "| class | precision | recall | F1 | sent to review | right among the sure | photos |",
        "|---|---|---|---|---|---|---|",
    ]
    for lab, c in v["per_class"].items():
        lines.append(
            f"| {lab} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | "
            f"{_pct(c['review_share'])} | {c['sure_accuracy']:.3f} | {c['support']} |"
        )
    lines += [
        "",
        "| wild val source | photos | accuracy | sent to review | right among the sure "
        "| `none` photos | `none` to review |",
        "|---|---|---|---|---|---|---|",
    ]
    for src, e in v.get("per_source", {}).items():
        lines.append(
            f"| {src} | {e['n']} | {e['accuracy']:.3f} | {_pct(e['review_share'])} | "
            f"{e['sure_accuracy']:.3f} | {e['none_n']} | {_pct(e['none_review_share'])} |"
        )
    lines.append("")
    return lines


def wild_training_section(wild: Path, rows_per_source: dict[str, dict[str, int]]) -> list[str]:
    """Markdown: the wild training sources (photos per class) with their terms."""
    lic = wild / "licenses"
    lines = [
        "### `wild/` training sources (split=train; the val sources were never trained on)",
        "",
        "| source | classes (photos) | terms |",
        "|---|---|---|",
    ]
    for src, classes in rows_per_source.items():
        if src.startswith(("pool/", "paste")):
            continue
        folder = lic / src.replace("/", "__")
        terms = "no licence file found; research and evaluation use only"
        if folder.is_dir():
            excerpt, files = licence_excerpt(folder, limit=160)
            if any(Path(f).stem.lower().startswith(LICENCE_NAMES) for f in files):
                terms = f"`licenses/{folder.name}/`: {excerpt}"
            else:
                terms = (
                    f"`licenses/{folder.name}/` holds no licence, only "
                    f"{', '.join(files) or 'nothing'}: research and evaluation use only"
                )
        shown = ", ".join(f"{c} ({n})" for c, n in sorted(Counter(classes).items()))
        lines.append(f"| {src} | {shown} | {terms.replace('|', '/')} |")
    lines.append("")
    return lines


def default_card(bundle: Bundle, metrics: dict[str, Any], data: Path) -> str:
    """The whole card as Markdown."""
    bb = bundle.backbone
    spec = bundle.preprocess.model_dump()
    training = metrics["training"]
    lines = [
        f"# Model card: {bundle.name}",
        "",
        "## What it does",
        "",
        "Sorts photos into the classes of its heads. A frozen, ImageNet-pretrained "
        f"`{bb.get('arch')}` backbone ({bb.get('precision')}) turns each photo into a "
        f"{bb.get('embedding_dim')}-d embedding; each head is a linear classifier over it, "
        "calibrated by temperature scaling, with a confidence threshold below which a photo "
        "is marked `uncertain` (sent to review) instead of being filed.",
        "",
        "## Model",
        "",
        f"- backbone: {bb.get('arch')}, ONNX opset {bb.get('opset', '?')}, precision "
        f"**{bb.get('precision')}**; the heads are fitted on this backbone's own embeddings "
        "(what users get)",
        f"- preprocessing (`preprocess.json`): size {spec['size']}, {spec['resize']}, "
        f"equalize {spec['equalize']}",
        f"- heads: {training['head_options']}; training views: pool plain + "
        f"{training['pool_views']} augmented, wild train plain + {training['wild_views']} "
        f"augmented ({training['views']} rows); pasted-people scenes: "
        f"{training['pasted_scenes']}",
        f"- augmentation: `{training['augment']}`",
        "",
        "## Measured figures",
        "",
        "Every choice (recipe, temperature, threshold) was made on `wild` `split=val`: 290",
        "hand-labelled photos from 13 sources that no training photo comes from. Figures",
        "below are measured with the shipped int8 backbone through the serving engine.",
        "",
    ]
    for name, h in metrics["heads"].items():
        lines += review_tables(name, h)
    lines += [
        "## Training data",
        "",
        "The train pool (minus a held-out seventh for the test figures) and the `wild` rows",
        "with `split=train` (the files are not part of the bundle).",
        "",
        data_section(data / "train_pool", list(bundle.head(bundle.default_head).labels)).replace(
            "## Training data\n\n", "### `train_pool/` sources\n\n", 1
        ),
        *wild_training_section(data / "wild", training["rows_per_source"]),
        "Several wild training sources (Urban100/Sun-Hays80 in SelfExSR, the style-transfer",
        "photos, FiveK in CURL, document-rectification and repositories' sample photos) are",
        "research-only or state no licence (`wild/README.md`); the validation sources (COCO,",
        "SUN, DICM/LIME, ...) were only evaluated on. The weights are therefore for research",
        "and personal use; a redistributed model must keep this card.",
        "",
        "## Limits",
        "",
        "- Photos that fit no class (a car, a flower) are fitted towards low confidence and",
        "  mostly go to review, but not all of them (see `none` above).",
        "- People with animals or at a meal are the commonest mistakes (called pets or",
        "  food). Far-away people in a landscape make it a landscape (the data's rule).",
        "- pets (12 photos) and architecture (31) have few wild val photos: their figures",
        "  move by several points with one photo.",
        "- Confidence is calibrated on wild val; it drifts on photos unlike it.",
        "",
        "## Files beside the weights",
        "",
        "- `train_embeddings.npz`: one embedding per training photo (plain view; int8 with a",
        "  per-row scale; `none` photos too) with its label and source, and the wild val",
        "  embeddings the heads were calibrated on: derived numbers, no image. `smartalbum",
        "  retrain` fits the heads again on these plus a user's corrections by the same recipe and",
        "  calibrates them on the same photos.",
        "- `features.onnx`: the backbone's last 7x7 feature map, for heat-maps.",
        "- `imagenet_fc.npz`: the backbone's ImageNet classifier (photo tags, and heads that",
        "  use ImageNet concept scores; the shipped heads do not).",
        "",
    ]
    return "\n".join(lines)
