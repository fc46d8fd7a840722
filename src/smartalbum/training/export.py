"""Backbone -> ONNX (fp32), static int8 quantisation, and the checks that justify shipping them.

The server runs whatever ``backbone.onnx`` a bundle holds, so nothing is shipped unchecked:
:func:`parity` compares the exported graph with torch on real photos, and
:func:`head_agreement` measures how often the int8 graph leads a head to the same label as
fp32. ``train_bundle`` ships int8 only when that agreement is high enough.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import CalibrationDataReader

from smartalbum.imaging.preprocess import PreprocessSpec
from smartalbum.model.heads import Head

INPUT_NAME = "image"
EMBEDDING_OUTPUT = "embedding"
LOGITS_OUTPUT = "logits"
OPSET = 17


def export_onnx(
    model: torch.nn.Module, path: Path, spec: PreprocessSpec, *, opset: int = OPSET
) -> dict[str, Any]:
    """Export ``model`` (forward -> (embedding, logits)) with a dynamic batch dimension.

    Uses the TorchScript exporter (``dynamo=False``: in torch 2.13 it still exists, emits
    exactly opset 17 and keeps the graph's names), and falls back to the dynamo exporter
    if that fails. Written atomically: a temp file, then ``os.replace``. Returns facts for
    the bundle manifest (input/output names, exporter used).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    dummy = torch.randn(2, 3, spec.size, spec.size)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    common: dict[str, Any] = {
        "input_names": [INPUT_NAME],
        "output_names": [EMBEDDING_OUTPUT, LOGITS_OUTPUT],
        "opset_version": opset,
    }
    exporter = "torchscript"
    try:
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    model,
                    (dummy,),
                    str(tmp),
                    dynamo=False,
                    dynamic_axes={
                        n: {0: "N"} for n in (INPUT_NAME, EMBEDDING_OUTPUT, LOGITS_OUTPUT)
                    },
                    do_constant_folding=True,
                    **common,
                )
        except Exception:  # the legacy exporter may be gone or fail on a new op
            exporter = "dynamo"
            # The dynamo exporter logs a traceback when it cannot down-convert the opset
            # (the graph then stays at its native opset, which ONNX Runtime runs fine).
            with warnings.catch_warnings(), torch.no_grad(), _quiet("onnxscript", "torch.onnx"):
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    model,
                    (dummy,),
                    str(tmp),
                    dynamo=True,
                    dynamic_shapes=({0: torch.export.Dim("N", min=1, max=4096)},),
                    external_data=False,
                    **common,
                )
        onnx.checker.check_model(str(tmp))
        proto = onnx.load(str(tmp), load_external_data=False)
        actual = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), opset)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "input_name": INPUT_NAME,
        "embedding_output": EMBEDDING_OUTPUT,
        "logits_output": LOGITS_OUTPUT,
        "opset": int(actual),
        "exporter": exporter,
    }


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silence the named loggers below ERROR for the duration of the block."""
    saved = [(lg, lg.level) for lg in map(logging.getLogger, loggers)]
    for lg, _ in saved:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


class _Batches(CalibrationDataReader):
    """Feeds calibration photos to the quantiser a few at a time."""

    def __init__(self, data: np.ndarray, input_name: str, batch: int = 8) -> None:
        self._it: Iterator[dict[str, np.ndarray]] = (
            {input_name: np.ascontiguousarray(data[i : i + batch], dtype=np.float32)}
            for i in range(0, len(data), batch)
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def quantize_int8(
    fp32_path: Path,
    out_path: Path,
    calibration: np.ndarray,
    *,
    per_channel: bool = True,
    method: str = "minmax",
) -> Path:
    """Static int8 quantisation (QDQ, per-channel weights) calibrated on real photos.

    ``calibration`` is an N x 3 x S x S batch of photos preprocessed by the bundle's spec
    (a few dozen spread over the classes is enough). The model is first run through ORT's
    ``quant_pre_process`` (shape inference + graph optimisation), as ORT recommends, so
    BatchNorm is folded into the convolutions before ranges are collected.
    """
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if calibration.ndim != 4 or len(calibration) == 0:
        raise ValueError("calibration must be a non-empty N x 3 x S x S batch")
    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    input_name = (
        ort.InferenceSession(str(fp32_path), providers=["CPUExecutionProvider"])
        .get_inputs()[0]
        .name
    )
    with tempfile.TemporaryDirectory(dir=out_path.parent) as tmpdir:
        pre = Path(tmpdir) / "pre.onnx"
        tmp_out = Path(tmpdir) / "int8.onnx"
        try:
            quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=False)
        except Exception:  # symbolic shape inference can fail on exotic graphs
            quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(tmp_out),
            _Batches(calibration, input_name),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[method],
            extra_options={"CalibTensorRangeSymmetric": False},
        )
        weights_as_uint8(tmp_out)
        onnx.checker.check_model(str(tmp_out))
        os.replace(tmp_out, out_path)
    return out_path


def weights_as_uint8(path: Path) -> int:
    """Rewrite a QDQ model's int8 weights as uint8 with the zero point moved by 128, in place.

    Why: ONNX Runtime runs uint8 activations x int8 weights with VPMADDUBSW on x86 CPUs that
    have AVX2 but no VNNI, and that instruction saturates its 16-bit pair sums. On such a CPU
    the shipped Lite0 embedding kept only cos 0.79-0.91 of its own exact int8 result (same
    file on a VNNI CPU: 0.999), so two machines classified the same photo differently
    (wild val macro-F1 0.935 vs 0.948). uint8 x uint8 has no saturating path, and
    ``w + 128`` with zero point ``z + 128`` is the same number, so the model computes what a
    VNNI CPU computes, on every CPU (docs/model.md, "Same answer on every CPU").

    Depthwise convolutions keep int8: their kernel does not saturate (measured: the same
    embedding either way) and its uint8 variant costs 8 % more network time.

    Returns how many weight tensors were rewritten (0 for a model that has none left).
    """
    model = onnx.load(str(path))
    init = {t.name: t for t in model.graph.initializer}
    depthwise = {
        node.input[1]
        for node in model.graph.node
        if node.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in node.attribute)
    }
    rewritten = 0
    for node in model.graph.node:
        weight = init.get(node.input[0]) if node.op_type == "DequantizeLinear" else None
        if weight is None or weight.data_type != onnx.TensorProto.INT8 or len(node.input) < 3:
            continue  # not a weight, or already uint8 (a tensor shared by two nodes)
        if node.output[0] in depthwise:
            continue
        zero = init[node.input[2]]
        shifted = onnx.numpy_helper.to_array(weight).astype(np.int16) + 128
        weight.CopyFrom(onnx.numpy_helper.from_array(shifted.astype(np.uint8), weight.name))
        if zero.data_type == onnx.TensorProto.INT8:  # a zero point shared is shifted once
            zero_shifted = onnx.numpy_helper.to_array(zero).astype(np.int16) + 128
            zero.CopyFrom(onnx.numpy_helper.from_array(zero_shifted.astype(np.uint8), zero.name))
        rewritten += 1
    if rewritten:
        onnx.save(model, str(path))
    return rewritten


def session(path: Path, threads: int = 2) -> ort.InferenceSession:
    """A CPU session with explicit thread counts (ORT's default oversubscribes 2 cores)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def run_onnx(path: Path | ort.InferenceSession, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(embedding, logits) of an exported backbone for a preprocessed batch."""
    sess = path if isinstance(path, ort.InferenceSession) else session(Path(path))
    name = sess.get_inputs()[0].name
    emb, logits = sess.run(
        [EMBEDDING_OUTPUT, LOGITS_OUTPUT], {name: np.ascontiguousarray(batch, dtype=np.float32)}
    )
    return emb, logits


class OnnxBackbone:
    """An exported backbone run by ONNX Runtime, usable wherever a frozen backbone is.

    On a small CPU, ONNX Runtime runs EfficientNet-Lite0 several times faster than eager
    torch (fused, static-padded graph) with the same numbers (parity ~1e-5), so embeddings
    of a frozen backbone are computed through it. ``arch``/``weights_id`` name the weights
    for cache keys, exactly like the torch model it came from, so caches are shared.
    """

    def __init__(
        self, path: Path, *, arch: str, weights_id: str, embedding_dim: int, threads: int = 2
    ) -> None:
        self.path = Path(path)
        self.arch = arch
        self.weights_id = weights_id
        self.embedding_dim = embedding_dim
        self.session = session(self.path, threads)

    @classmethod
    def from_model(
        cls, model: torch.nn.Module, path: Path, spec: PreprocessSpec, threads: int = 2
    ) -> OnnxBackbone:
        """Export ``model`` to ``path`` (fp32) and open it."""
        export_onnx(model, path, spec)
        return cls(
            path,
            arch=getattr(model, "arch", type(model).__name__),
            weights_id=getattr(model, "weights_id", "random"),
            embedding_dim=int(getattr(model, "embedding_dim", 0)),
            threads=threads,
        )

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return run_onnx(self.session, batch)


def parity(model: torch.nn.Module, onnx_path: Path, batch: np.ndarray) -> dict[str, float]:
    """How closely the ONNX graph reproduces torch on ``batch`` (preprocessed photos).

    ``max_abs_diff``/``mean_abs_diff`` are over the embedding; ``top1_agreement`` is the
    share of inputs whose ImageNet top-1 class is the same in both.
    """
    with torch.inference_mode():
        t_emb, t_logits = model.eval()(torch.from_numpy(np.ascontiguousarray(batch)))
    o_emb, o_logits = run_onnx(onnx_path, batch)
    diff = np.abs(o_emb - t_emb.numpy())
    return {
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "logits_max_abs_diff": float(np.abs(o_logits - t_logits.numpy()).max()),
        "top1_agreement": float(np.mean(o_logits.argmax(1) == t_logits.numpy().argmax(1))),
        "n": len(batch),
    }


def head_agreement(fp32_path: Path, int8_path: Path, batch: np.ndarray, head: Head) -> float:
    """Share of photos in ``batch`` whose top-1 label under ``head`` is the same in both."""
    a, _ = run_onnx(fp32_path, batch)
    b, _ = run_onnx(int8_path, batch)
    return float(np.mean(head.logits(a).argmax(1) == head.logits(b).argmax(1)))


def benchmark(
    onnx_path: Path, batch: np.ndarray, *, threads: int = 2, repeats: int = 3
) -> dict[str, float]:
    """Median milliseconds per photo of one batch on this CPU (first run is a warm-up)."""
    sess = session(Path(onnx_path), threads)
    name = sess.get_inputs()[0].name
    x = np.ascontiguousarray(batch, dtype=np.float32)
    sess.run(None, {name: x})
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        times.append(time.perf_counter() - t0)
    per_photo = float(np.median(times)) / len(x) * 1000.0
    return {"ms_per_photo": round(per_photo, 3), "batch": len(x), "threads": threads}


# -- refreshing a bundle's backbone -----------------------------------------------------------


def _sample_photos(
    photos: Path | None, bundle_metrics: dict[str, Any], spec: PreprocessSpec, n: int
) -> tuple[np.ndarray, list[str | None]] | None:
    """Up to ``n`` preprocessed real photos and their labels (None when unknown): from
    ``photos`` (a prepared dataset or a folder), else from the dataset the bundle was
    trained on (its val split), else None."""
    from smartalbum.imaging.decode import load_photo
    from smartalbum.imaging.errors import PhotoError
    from smartalbum.imaging.files import find_photos
    from smartalbum.imaging.preprocess import preprocess
    from smartalbum.training.data import CSV_NAME, load_dataset

    pairs: list[tuple[Path, str | None]] = []
    if photos is not None:
        if (Path(photos) / CSV_NAME).is_file():
            pairs = [(it.path, it.label) for it in load_dataset(Path(photos)).items]
        else:
            pairs = [(p, None) for p in find_photos(Path(photos), recursive=True)]
    else:
        ds_path = (bundle_metrics.get("dataset") or {}).get("path")
        if ds_path and (Path(ds_path) / CSV_NAME).is_file():
            ds = load_dataset(Path(ds_path))
            pairs = [(it.path, it.label) for it in (ds.split("val") or ds.items)]
    if not pairs:
        return None
    step = max(1, len(pairs) // n)
    images, labels = [], []
    for p, label in pairs[::step][:n]:
        try:
            images.append(preprocess(load_photo(p).image, spec))
        except PhotoError:
            continue
        labels.append(label)
    return (np.stack(images).astype(np.float32), labels) if images else None


def _own_photos(batch: np.ndarray, labels: list[str | None], head: Head) -> np.ndarray:
    """The photos of ``head``'s labels (all of them when labels are unknown): a head is
    judged on what it was trained to tell apart."""
    mask = np.array([lab is None or lab in head.labels for lab in labels])
    return batch[mask] if mask.any() else batch


def refresh_bundle(
    bundle_path: Path,
    *,
    arch: str | None = None,
    weights: Path | None = None,
    photos: Path | None = None,
    quantize: bool = True,
    check_only: bool = False,
    min_agreement: float = 0.99,
    n_photos: int = 64,
) -> dict[str, Any]:
    """Re-export a bundle's backbone from the arch's weights (fp32 + int8), or only check it.

    Heads are kept: they were fitted on this arch's embeddings, so the arch cannot change,
    and a fine-tuned bundle needs its fine-tuned ``weights``. Real photos (``photos``, or the
    bundle's own dataset) drive parity, calibration and the int8 decision; without any,
    int8 is skipped. With ``check_only`` nothing is written: the returned report compares
    the bundle's current ``backbone.onnx`` with torch.
    """
    from smartalbum.model.bundle import Bundle, write_bundle
    from smartalbum.training.backbones import build_backbone

    bundle = Bundle.load(bundle_path)
    entry = bundle.backbone
    arch = arch or entry.get("arch")
    if not arch:
        raise ValueError("the bundle does not name its arch; pass --arch")
    if entry.get("arch") and arch != entry["arch"]:
        raise ValueError(
            f"the bundle's heads were fitted on {entry['arch']} embeddings, not {arch}"
        )
    if entry.get("finetuned") and weights is None:
        raise ValueError("this bundle's backbone was fine-tuned: pass its weights (--weights)")
    spec = bundle.preprocess
    model = build_backbone(arch, weights, image_size=spec.size)
    sample = _sample_photos(photos, bundle.metrics, spec, n_photos)
    real = sample is not None
    if sample is None:  # numbers only: random inputs, no meaningful classes
        rng = np.random.default_rng(0)
        sample = (rng.normal(0, 1, (8, 3, spec.size, spec.size)).astype(np.float32), [None] * 8)
    batch, labels = sample
    report: dict[str, Any] = {"arch": arch, "real_photos": real, "n": len(batch)}
    heads = list(bundle.heads.values())
    with tempfile.TemporaryDirectory() as tmpdir:
        fp32 = Path(tmpdir) / "fp32.onnx"
        info = export_onnx(model, fp32, spec)
        report["parity_fp32"] = parity(model, fp32, batch)
        if check_only:
            current = bundle.backbone_path
            report["precision"] = entry.get("precision", "fp32")
            report["parity"] = parity(model, current, batch)
            report["head_agreement"] = {
                h.name: head_agreement(fp32, current, _own_photos(batch, labels, h), h)
                for h in heads
            }
            worst = min(report["head_agreement"].values())
            if report["precision"] == "fp32":
                p = report["parity"]
                report["ok"] = p["max_abs_diff"] < 1e-3 and p["top1_agreement"] == 1.0
            else:
                report["ok"] = worst >= min_agreement
            return report
        chosen, precision, agreement = fp32, "fp32", None
        reason = "quantisation disabled" if not quantize else "no real photos to calibrate int8"
        if quantize and real:
            int8 = quantize_int8(fp32, Path(tmpdir) / "int8.onnx", batch)
            agreement = {
                h.name: head_agreement(fp32, int8, _own_photos(batch, labels, h), h) for h in heads
            }
            report["speed_ms_per_photo"] = {
                "fp32": benchmark(fp32, batch[:8]),
                "int8": benchmark(int8, batch[:8]),
            }
            worst = min(agreement.values())
            if worst >= min_agreement:
                chosen, precision = int8, "int8"
                reason = f"int8 heads agree with fp32 on {worst:.1%} of the photos"
            else:
                reason = f"kept fp32: int8 heads agree on only {worst:.1%} of the photos"
        report.update(
            precision=precision,
            precision_reason=reason,
            head_agreement=agreement,
            parity=parity(model, chosen, batch),
        )
        new_entry = {k: v for k, v in entry.items() if k != "file"}
        new_entry.update(
            arch=arch,
            precision=precision,
            precision_reason=reason,
            embedding_dim=int(getattr(model, "embedding_dim", entry.get("embedding_dim", 0))),
            parity=report["parity"],
            parity_fp32=report["parity_fp32"],
            int8_head_agreement=agreement,
            weights=getattr(model, "weights_id", None),
            **info,
        )
        metrics = dict(bundle.metrics)
        metrics["backbone"] = {
            **metrics.get("backbone", {}),
            **new_entry,
            "speed_ms_per_photo": report.get("speed_ms_per_photo"),
        }
        card_path = bundle.path / "card.md"
        card = card_path.read_text() if card_path.is_file() else f"# {bundle.name}\n"
        extra = {
            str(p.relative_to(bundle.path)): p
            for p in sorted((bundle.path / "reports").rglob("*"))
            if p.is_file()
        }
        write_bundle(
            bundle.path,
            backbone_onnx=chosen,
            backbone=new_entry,
            preprocess=spec,
            heads=heads,
            default_head=bundle.default_head,
            metrics=metrics,
            card=card,
            name=bundle.name,
            extra_files=extra,
        )
        from smartalbum.categories.explain import write_features_model_if_possible

        write_features_model_if_possible(bundle.path)  # heat-maps (categories/explain.py)
        report["ok"] = True
    return report
