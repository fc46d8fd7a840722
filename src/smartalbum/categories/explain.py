"""Explanations: a heat-map of where the model looked for a prediction (class activation).

Every head sees the backbone's embedding, which is the global average of its last feature
map A (C x h x w). For a linear head, the score of class c is ``sum_k w_ck mean(A_k)``
(+ bias, up to the embedding's L2 normalisation), so its gradient with respect to A_k is
the constant ``w_ck / hw``: Grad-CAM's channel weights are the head's weights, and the
Grad-CAM map ``ReLU(sum_k w_ck A_k)`` is the class activation map. No autograd needed:
only the feature map, which the embedding model does not return.

So the bundle carries ``features.onnx``: the same graph as ``backbone.onnx`` with the
pooled feature map as an extra output. It is *small* (tens of KB): its weights are not
copied but point into ``backbone.onnx`` (ONNX external data with byte offsets), so it
cannot drift from the backbone and costs no download. :func:`write_features_model` makes
it at export time (it needs the ``onnx`` package of the train extra); serving only reads it
with ONNX Runtime, and computes a map on demand, one backbone run per photo.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import cv2
import numpy as np

from smartalbum.atomic import write_atomic
from smartalbum.categories.errors import ExplainUnavailable
from smartalbum.model.heads import Head

FEATURES_FILE = "features.onnx"
FEATURE_OUTPUT = "feature_map"
#: features.onnx records the SHA-256 of the backbone.onnx its offsets point into.
DIGEST_KEY = "smartalbum.backbone_sha256"
_POOL_OPS = ("ReduceMean", "GlobalAveragePool")
_PASS_THROUGH = ("QuantizeLinear", "DequantizeLinear", "Flatten", "Reshape", "Squeeze")


def write_features_model(bundle_dir: Path | str, *, min_external: int = 1024) -> Path:
    """Write ``features.onnx`` next to ``backbone.onnx`` (needs the ``onnx`` package).

    Walks back from the embedding output through (de)quantisation and reshapes to the
    global pooling node; its input is the last feature map. Initialisers of at least
    ``min_external`` bytes are stored as references into ``backbone.onnx``.
    """
    import onnx
    from onnx import helper

    bundle_dir = Path(bundle_dir)
    src = bundle_dir / "backbone.onnx"
    raw = src.read_bytes()
    model = onnx.load_from_string(raw)
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    name = graph.output[0].name
    node = producer.get(name)
    while node is not None and node.op_type in _PASS_THROUGH:
        node = producer.get(node.input[0])
    if node is None or node.op_type not in _POOL_OPS:
        raise ExplainUnavailable("the backbone's embedding is not a global average pooling")
    graph.output.append(helper.make_tensor_value_info(node.input[0], onnx.TensorProto.FLOAT, None))
    graph.output[-1].name = node.input[0]
    # rename through an Identity so callers ask for a stable name
    graph.node.append(helper.make_node("Identity", [node.input[0]], [FEATURE_OUTPUT]))
    graph.output[-1].name = FEATURE_OUTPUT
    for tensor in graph.initializer:
        data = tensor.raw_data
        if len(data) < min_external:
            continue
        offset = raw.find(data)
        if offset < 0:
            continue
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (
            ("location", src.name),
            ("offset", str(offset)),
            ("length", str(len(data))),
        ):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
    entry = model.metadata_props.add()
    entry.key, entry.value = DIGEST_KEY, hashlib.sha256(raw).hexdigest()
    out = bundle_dir / FEATURES_FILE
    write_atomic(out, model.SerializeToString())
    return out


class Explainer:
    """Heat-maps for one bundle (one ONNX Runtime session over ``features.onnx``)."""

    def __init__(self, bundle, *, threads: int = 1) -> None:  # noqa: ANN001 - model.bundle.Bundle
        import onnxruntime as ort

        path = Path(bundle.path) / FEATURES_FILE
        if not path.is_file():
            raise ExplainUnavailable(
                f"bundle {bundle.name!r} has no {FEATURES_FILE}; make it with "
                "`smartalbum category explain-setup` (needs the train extra)"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        self.bundle = bundle
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - ORT raises its own types; any means unusable
            raise ExplainUnavailable(f"{FEATURES_FILE} cannot be loaded: {exc}") from exc
        recorded = self.session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY)
        actual = hashlib.sha256((Path(bundle.path) / "backbone.onnx").read_bytes()).hexdigest()
        if recorded != actual:
            raise ExplainUnavailable(
                f"{FEATURES_FILE} of bundle {bundle.name!r} was made for another backbone.onnx; "
                "make it again with `smartalbum category explain-setup`"
            )
        self.input_name = self.session.get_inputs()[0].name
        self.embedding_output = bundle.backbone.get("embedding_output", "embedding")

    def feature_map(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Upright RGB uint8 photo -> (feature map C x h x w, embedding D)."""
        from smartalbum.imaging.preprocess import preprocess_batch

        batch = preprocess_batch([image], self.bundle.preprocess).astype(np.float32)
        fmap, emb = self.session.run(
            [FEATURE_OUTPUT, self.embedding_output], {self.input_name: batch}
        )
        return fmap[0], emb[0]

    def heatmap(self, image: np.ndarray, head: Head, label: str | None = None) -> dict:
        """The class activation map of ``label`` (default: the head's prediction), in
        [0, 1] at the feature map's resolution, with the label, its probability and the
        ``region`` of the photo the map covers (:func:`map_region`)."""
        fmap, emb = self.feature_map(image)
        probs = head.probabilities(emb[None, :])[0]
        index = int(np.argmax(probs)) if label is None else head.labels.index(label)
        cam = np.tensordot(channel_weights(head, index), fmap, axes=(0, 0))
        cam = np.maximum(cam, 0)
        peak = float(cam.max())
        cam = cam / peak if peak > 0 else cam
        return {
            "label": head.labels[index],
            "probability": float(probs[index]),
            "map": cam.astype(np.float32),
            "region": map_region(self.bundle.preprocess, image.shape[1], image.shape[0]),
        }


def map_region(spec, width: int, height: int) -> tuple[float, float, float, float]:  # noqa: ANN001 - imaging.preprocess.PreprocessSpec
    """The part of a ``width`` x ``height`` photo the network saw, hence the map covers, as
    fractions of the photo: ``(x, y, w, h)``.

    The network sees a square: the middle of the photo (``center_crop``: a wide photo's
    sides are not seen), the photo padded (``pad``: the map reaches past its edges) or the
    whole photo squashed. Drawing the map over the whole photo puts a wide photo's hot spot
    in the wrong place, so every overlay (the PNG, the viewer) places it by this region.
    """
    if spec.resize == "center_crop":
        side = max(1, round(min(height, width) * spec.crop_fraction))
        left, top = (width - side) // 2, (height - side) // 2
        return (left / width, top / height, side / width, side / height)
    if spec.resize == "pad":
        side = max(height, width)
        left, top = (side - width) // 2, (side - height) // 2
        return (-left / width, -top / height, side / width, side / height)
    return (0.0, 0.0, 1.0, 1.0)


def channel_weights(head: Head, index: int) -> np.ndarray:
    """Per-channel weights of class ``index``: the linear head's weights over the embedding
    (standardisation folded in). Two-label heads (categories) use the logit difference, so
    the map shows what speaks *for* the category against "other"."""
    w = head.weights[0][: head.input_dim].astype(np.float64)
    if head.scale is not None:
        w = w / np.asarray(head.scale[: head.input_dim], dtype=np.float64)[:, None]
    if len(head.weights) > 1:  # an MLP: back through the layers linearly (ReLU ignored)
        for layer in head.weights[1:]:
            w = w @ layer.astype(np.float64)
    if w.shape[1] == 2:
        other = 1 - index
        return w[:, index] - w[:, other]
    return w[:, index] - w.mean(axis=1)


def overlay_png(
    image: np.ndarray,
    cam: np.ndarray,
    *,
    alpha: float = 0.45,
    region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
) -> bytes:
    """The photo with the map as a colour overlay over ``region`` (:func:`map_region`; the
    photo outside it is left as it is), as PNG bytes (for the API and page)."""
    h, w = image.shape[:2]
    rx, ry, rw, rh = region
    # the map over the region's own pixels, then the part of it inside the photo
    x0, y0 = round(rx * w), round(ry * h)
    side_w, side_h = max(1, round(rw * w)), max(1, round(rh * h))
    heat_region = cv2.resize(
        cam.astype(np.float32), (side_w, side_h), interpolation=cv2.INTER_CUBIC
    )
    heat = np.zeros((h, w), np.float32)
    weight = np.zeros((h, w, 1), np.float32)
    top, left = max(0, y0), max(0, x0)
    bottom, right = min(h, y0 + side_h), min(w, x0 + side_w)
    heat[top:bottom, left:right] = heat_region[top - y0 : bottom - y0, left - x0 : right - x0]
    weight[top:bottom, left:right] = alpha
    heat = np.clip(heat, 0, 1)
    colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1]
    mixed = image.astype(np.float32) * (1 - weight) + colour.astype(np.float32) * weight
    ok, buf = cv2.imencode(".png", np.clip(mixed, 0, 255).astype(np.uint8)[:, :, ::-1])
    if not ok:  # pragma: no cover - encoding an RGB array cannot fail
        raise RuntimeError("PNG encoding failed")
    return io.BytesIO(buf.tobytes()).getvalue()


def write_features_model_if_possible(bundle_dir: Path | str) -> Path | None:
    """:func:`write_features_model` for the bundle writers (training export and fit): a
    bundle whose backbone has no global pooling, or an install without ``onnx``, simply
    gets no heat-maps (the API answers 501) instead of a failed export."""
    try:
        return write_features_model(bundle_dir)
    except (ImportError, ExplainUnavailable):
        return None
