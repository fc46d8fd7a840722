"""Build small but real model bundles for tests, without torch.

The backbone is a genuine ONNX graph (average colour of 4x4 regions -> linear embedding)
that ONNX Runtime runs like the real one, so engine, CLI and web tests exercise the real
code paths in milliseconds. Heads are fitted to separate red, green and blue photos, so a
test can assert that a red photo is really classified as "red".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from smartalbum.imaging.preprocess import PreprocessSpec
from smartalbum.model.bundle import Bundle, write_bundle
from smartalbum.model.heads import Head

EMBED_DIM = 48  # 3 channels x 4 x 4 regions


def make_tiny_backbone(path: Path, size: int = 32) -> Path:
    """ONNX: image N x 3 x S x S -> embedding N x 48 (+ 1000 fake imagenet logits)."""
    pool = helper.make_node(
        "AveragePool", ["image"], ["pooled"], kernel_shape=[size // 4] * 2, strides=[size // 4] * 2
    )
    flat = helper.make_node("Flatten", ["pooled"], ["embedding"], axis=1)
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(EMBED_DIM, 1000)).astype(np.float32), "w")
    logits = helper.make_node("MatMul", ["embedding", "w"], ["logits"])
    graph = helper.make_graph(
        [pool, flat, logits],
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, size, size])],
        [
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", EMBED_DIM]),
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000]),
        ],
        initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def colour_head(name: str = "colours", threshold: float = 0.5) -> Head:
    """A linear head that tells mostly-red, mostly-green and mostly-blue photos apart.

    The embedding is 16 region means per channel (channel-major) after (x-127)/128.
    """
    w = np.zeros((EMBED_DIM, 3), dtype=np.float32)
    for c in range(3):
        w[c * 16 : (c + 1) * 16, c] = 1.0
    return Head(
        name=name,
        labels=["red", "green", "blue"],
        weights=[w * 0.1],
        biases=[np.zeros(3, dtype=np.float32)],
        l2_normalize=False,
        threshold=threshold,
    )


def make_tiny_bundle(out: Path) -> Bundle:
    """A complete bundle directory with two heads (``colours`` default, ``strict``)."""
    spec = PreprocessSpec(size=32, resize="center_crop")
    backbone = make_tiny_backbone(out.parent / f"{out.name}-backbone.onnx", size=32)
    return write_bundle(
        out,
        backbone_onnx=backbone,
        backbone={
            "arch": "tiny-test",
            "precision": "fp32",
            "embedding_dim": EMBED_DIM,
            "input_name": "image",
            "embedding_output": "embedding",
            "logits_output": "logits",
        },
        preprocess=spec,
        heads=[colour_head(), colour_head("strict", threshold=0.99)],
        default_head="colours",
        metrics={"colours": {"accuracy": 1.0}},
        card="# Tiny test bundle\n\nBuilt by tests/bundles.py; not a real model.\n",
        name="tiny-test",
    )


def ship_training_embeddings(path: Path, per_colour: int = 30) -> None:
    """Give the tiny bundle at ``path`` the training embeddings a real bundle ships for
    retraining its heads (``per_colour`` generated photos of each colour, labelled)."""
    from library.photos import COLOURS, picture
    from smartalbum.model import train_embeddings
    from smartalbum.model.engine import Engine

    engine = Engine.load(path, threads=1)
    images, labels = [], []
    for label, colour in COLOURS.items():
        for seed in range(per_colour):
            images.append(picture(colour, seed=1000 + seed))
            labels.append(label)
    train_embeddings.write(path, engine.embed(images), labels)
