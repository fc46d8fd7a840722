"""Write a mobile bundle from a server bundle, with ONNX Runtime and numpy only.

Why not ``python -m onnxruntime.tools.convert_onnx_models_to_ort``: that tool imports the
``onnx`` package, which a serving-only install does not have. It is a thin wrapper over
ONNX Runtime's own ability to save an optimised graph in ORT format
(``session.save_model_format=ORT``), so we call that directly, with the tool's default
settings for portable models (all graph optimisations except the x86-only NCHWc layout
transformer). The result is checked against the ONNX original before it is kept.

Layout of OUT (format ``smartalbum-mobile/1``)::

    mobile.json       manifest: source bundle, backbone facts, decode size, file digests
    backbone.ort      int8 backbone, ONNX Runtime mobile (ORT) format
    heads.json        every head (labels, layers, calibration, concepts), default head
    imagenet_fc.bin   ImageNet classifier for concept heads: W (D x K) then b (K), <f2 or <f4
    preprocess.json   the server's preprocessing spec, unchanged
    labels.json       {head: [labels]}
    card.md           model card (the server bundle's, plus the mobile notes)
    reference.py      the reference program (onnxruntime + numpy + Pillow)
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from smartalbum import __version__
from smartalbum.atomic import atomic_dir
from smartalbum.errors import EXIT_USAGE, SmartAlbumError
from smartalbum.model.bundle import Bundle, BundleError

MOBILE_FORMAT = "smartalbum-mobile/1"
HEADS_FORMAT = "smartalbum-mobile-heads/1"
REFERENCE_PROGRAM = Path(__file__).resolve().parent / "reference.py"
# Optimisers that make a model specific to the exporting CPU (x86 NCHWc blocked layout).
_NOT_PORTABLE = ["NchwcTransformer"]
# The ORT model must reproduce the ONNX original; optimisation only reorders float maths.
PARITY_TOLERANCE = 1e-3


class MobileExportError(SmartAlbumError):
    """The source bundle cannot be exported, or the converted model fails its check."""

    exit_code = EXIT_USAGE  # the CLI's ``export --mobile``: bad input, exit 2


@dataclass(frozen=True)
class MobileExport:
    """What was written: the folder, its manifest, and the check of the converted model."""

    path: Path
    manifest: dict[str, Any]

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.manifest["files"]


def convert_to_ort(onnx_path: Path, ort_path: Path) -> None:
    """Save ``onnx_path`` as a portable ORT-format model at ``ort_path``."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.optimized_model_filepath = str(ort_path)
    opts.add_session_config_entry("session.save_model_format", "ORT")
    try:
        ort.InferenceSession(
            str(onnx_path),
            sess_options=opts,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=_NOT_PORTABLE,
        )
    except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
        raise MobileExportError(f"ONNX Runtime could not convert {onnx_path}: {exc}") from exc
    if not ort_path.is_file():
        raise MobileExportError(f"ONNX Runtime wrote no ORT model for {onnx_path}")


def check_parity(onnx_path: Path, ort_path: Path, size: int, n: int = 2) -> dict[str, float]:
    """Largest output difference between the two models on fixed random inputs."""
    x = np.random.default_rng(0).standard_normal((n, 3, size, size), dtype=np.float32)
    diffs = {}
    a = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(ort_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in a.get_outputs()]
    feed = {a.get_inputs()[0].name: x}
    for name, u, v in zip(names, a.run(names, feed), b.run(names, feed), strict=True):
        diffs[name] = float(np.abs(u - v).max())
    return diffs


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_mobile(out: Path | str, bundle: Path | str | None = None) -> MobileExport:
    """Write the mobile bundle of ``bundle`` (default: the shipped one) to ``out``.

    Built in a temporary sibling folder and swapped in at the end, so an interrupted export
    never leaves a half-written bundle where an app build would pick it up.
    """
    out = Path(out)
    try:
        src = Bundle.load(bundle)
    except (BundleError, OSError, ValueError) as exc:
        raise MobileExportError(f"cannot load model bundle: {exc}") from exc
    if out.resolve() == src.path.resolve():
        raise MobileExportError("the mobile bundle cannot be written over its source bundle")
    if out.exists() and not (out / "mobile.json").is_file() and any(out.iterdir()):
        raise MobileExportError(f"{out} exists and is not a mobile bundle: refusing to replace it")
    with atomic_dir(out) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; the bundle is meant to be shipped
        manifest = _write(tmp, src)
    return MobileExport(path=out, manifest=manifest)


def _write(tmp: Path, src: Bundle) -> dict[str, Any]:
    backbone = src.backbone
    convert_to_ort(src.backbone_path, tmp / "backbone.ort")
    parity = check_parity(src.backbone_path, tmp / "backbone.ort", src.preprocess.size)
    worst = max(parity.values())
    if worst > PARITY_TOLERANCE:
        raise MobileExportError(
            f"the ORT model differs from the ONNX original by {worst:.3g} (> {PARITY_TOLERANCE})"
        )

    heads: dict[str, Any] = {}
    for name, head in src.heads.items():
        d = head.to_dict()
        d.pop("metrics", None)  # metrics stay in the card; the app needs only the maths
        heads[name] = d
    doc: dict[str, Any] = {
        "format": HEADS_FORMAT,
        "default_head": src.default_head,
        "heads": heads,
        "concept_fc": None,
    }
    fc = src.concept_fc
    if fc is not None and any(h.concepts for h in src.heads.values()):
        # Half precision when that loses nothing (the shipped classifier is stored so).
        lossless = all(np.array_equal(a.astype(np.float16).astype(np.float32), a) for a in fc)
        dtype = "<f2" if lossless else "<f4"
        w, b = (np.asarray(a, dtype=dtype) for a in fc)
        with (tmp / "imagenet_fc.bin").open("wb") as f:
            f.write(np.ascontiguousarray(w).tobytes())
            f.write(np.ascontiguousarray(b).tobytes())
        doc["concept_fc"] = {
            "file": "imagenet_fc.bin",
            "dtype": dtype,
            "dtype_note": "numpy notation: <f2 = IEEE half, <f4 = float32, little-endian",
            "shape": [int(w.shape[0]), int(w.shape[1])],
            "layout": "weight (D x K, row-major), then bias (K)",
        }
    (tmp / "heads.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    src.preprocess.to_json(tmp / "preprocess.json")
    labels = {name: list(h.labels) for name, h in src.heads.items()}
    (tmp / "labels.json").write_text(json.dumps(labels, indent=2) + "\n")
    shutil.copyfile(REFERENCE_PROGRAM, tmp / "reference.py")
    (tmp / "card.md").write_text(_card(src, parity))

    files = {
        p.name: {"bytes": p.stat().st_size, "sha256": _digest(p)}
        for p in sorted(tmp.iterdir())
        if p.is_file()
    }
    manifest = {
        "format": MOBILE_FORMAT,
        "name": f"{src.name}-mobile",
        "source_bundle": {"name": src.name, "version": src.version},
        "backbone": {
            "file": "backbone.ort",
            "model_format": "ORT",
            "arch": backbone.get("arch"),
            "precision": backbone.get("precision"),
            "input": backbone.get("input_name", "image"),
            "input_shape": ["N", 3, src.preprocess.size, src.preprocess.size],
            "embedding_output": backbone.get("embedding_output", "embedding"),
            "embedding_dim": backbone.get("embedding_dim"),
            "logits_output": backbone.get("logits_output"),
            "onnx_bytes": src.backbone_path.stat().st_size,
            "parity_vs_onnx": parity,
        },
        "decode": {
            "max_side": 2 * src.preprocess.size,
            "note": "decode at reduced size, upright, then shrink to this longest side",
        },
        "default_head": src.default_head,
        "files": files,
        "written_by": {"smartalbum": __version__, "onnxruntime": ort.__version__},
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    }
    (tmp / "mobile.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _card(src: Bundle, parity: dict[str, float]) -> str:
    card_path = src.path / "card.md"
    base = card_path.read_text() if card_path.is_file() else f"# {src.name}\n"
    worst = max(parity.values())
    return (
        f"{base.rstrip()}\n\n## Mobile bundle\n\n"
        f"Exported from bundle `{src.name}` version `{src.version}` by Smart Album "
        f"{__version__} with ONNX Runtime {ort.__version__}. The backbone is the same "
        f"{src.backbone.get('precision', '?')} graph in ONNX Runtime's ORT format (largest "
        f"output difference to the ONNX file on random inputs: {worst:.2g}); it needs an ONNX "
        f"Runtime (Mobile) build of version {ort.__version__.rsplit('.', 1)[0]} or newer. "
        "Heads and preprocessing are unchanged, so the metrics above apply as long as the "
        "app prepares photos exactly as `reference.py` does (see docs/mobile.md).\n"
    )
