"""Backbones, freezing, ONNX export parity and int8 quantisation (needs torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from smartalbum.imaging.preprocess import preprocess_batch  # noqa: E402
from smartalbum.model.heads import Head  # noqa: E402
from smartalbum.training.backbones import (  # noqa: E402
    ResNet18Net,
    build_backbone,
    default_spec,
    embedding_dim,
    freeze,
    train_mode,
)
from smartalbum.training.export import (  # noqa: E402
    export_onnx,
    head_agreement,
    parity,
    quantize_int8,
    run_onnx,
)

from .conftest import TEST_SIZE  # noqa: E402
from .imagegen import CLASSES, make_image  # noqa: E402

pytestmark = pytest.mark.train


def _photos(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [make_image(CLASSES[i % 3], rng) for i in range(n)]


@pytest.fixture(scope="module")
def lite0():
    return build_backbone("efficientnet-lite0", image_size=TEST_SIZE)


@pytest.fixture(scope="module")
def lite0_onnx(lite0, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "lite0.onnx"
    info = export_onnx(lite0, path, default_spec("efficientnet-lite0", size=TEST_SIZE))
    assert info["input_name"] == "image" and info["opset"] == 17
    return path


def test_registry_facts():
    assert embedding_dim("efficientnet-lite0") == 1280 and embedding_dim("resnet18") == 512
    assert default_spec("efficientnet-lite0").mean == (127.0, 127.0, 127.0)
    assert default_spec("resnet18").std == pytest.approx((58.395, 57.12, 57.375))
    assert default_spec("resnet18", size=96).size == 96
    with pytest.raises(ValueError, match="unknown arch"):
        build_backbone("vgg99")


def test_lite0_outputs_and_feature_map(lite0):
    x = torch.from_numpy(
        preprocess_batch(_photos(2), default_spec("efficientnet-lite0", size=TEST_SIZE))
    )
    with torch.inference_mode():
        emb, logits = lite0(x)
        fmap = lite0.features(x)
    assert emb.shape == (2, 1280) and logits.shape == (2, 1000)
    assert fmap.shape == (2, 1280, TEST_SIZE // 32, TEST_SIZE // 32)
    assert torch.allclose(fmap.mean(dim=(2, 3)), emb)


def test_freeze_opens_only_the_last_blocks(lite0):
    model = build_backbone("efficientnet-lite0", image_size=TEST_SIZE)
    assert freeze(model, 0) == []
    opened = freeze(model, 2)
    expected = {
        id(p) for m in [*model.blocks()[-2:], *model.head_modules()] for p in m.parameters()
    }
    assert {id(p) for p in opened} == expected
    assert not any(p.requires_grad for p in model.blocks()[0].parameters())
    train_mode(model)
    assert model.blocks()[-1].training and not model.blocks()[0].training
    with pytest.raises(ValueError):
        freeze(model, 99)


def test_lite0_onnx_matches_torch(lite0, lite0_onnx: Path):
    spec = default_spec("efficientnet-lite0", size=TEST_SIZE)
    batch = preprocess_batch(_photos(5, seed=1), spec)
    p = parity(lite0, lite0_onnx, batch)
    assert p["max_abs_diff"] < 1e-3 and p["top1_agreement"] == 1.0 and p["n"] == 5
    # the batch dimension is dynamic
    for n in (1, 3):
        emb, logits = run_onnx(lite0_onnx, batch[:n])
        assert emb.shape == (n, 1280) and logits.shape == (n, 1000)


def test_resnet18_loads_torchvision_layout_and_exports(tmp_path: Path):
    state = ResNet18Net().state_dict()
    for key in (
        "conv1.weight",
        "layer1.0.conv1.weight",
        "layer2.0.downsample.0.weight",
        "layer4.1.bn2.running_var",
        "fc.weight",
        "fc.bias",
    ):
        assert key in state
    assert len(state) == 122  # torchvision resnet18's state_dict has 122 entries
    weights = tmp_path / "r18.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, weights)
    with pytest.raises(ValueError, match="needs local weights"):
        build_backbone("resnet18")
    with pytest.raises(FileNotFoundError):
        build_backbone("resnet18", tmp_path / "missing.pth")
    model = build_backbone("resnet18", weights, image_size=TEST_SIZE)
    for k, v in model.net.state_dict().items():
        assert torch.equal(v, state[k])
    spec = default_spec("resnet18", size=TEST_SIZE)
    path = tmp_path / "r18.onnx"
    export_onnx(model, path, spec)
    p = parity(model, path, preprocess_batch(_photos(4, seed=2), spec))
    assert p["max_abs_diff"] < 1e-3 and p["top1_agreement"] == 1.0


def test_int8_quantisation_gives_a_valid_model_and_head_agreement(
    lite0, lite0_onnx: Path, tmp_path: Path
):
    spec = default_spec("efficientnet-lite0", size=TEST_SIZE)
    calib = preprocess_batch(_photos(8, seed=3), spec)
    int8 = quantize_int8(lite0_onnx, tmp_path / "int8.onnx", calib)
    model = onnx.load(str(int8))
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # Weights of the dense convolutions and the Gemm are uint8 (zero point 128), never int8:
    # ORT's uint8 x int8 kernel saturates on AVX2 CPUs without VNNI, so the same file
    # embedded photos differently per CPU. Depthwise ones keep int8 (that kernel is exact).
    init = {t.name: t for t in model.graph.initializer}
    weight_of = {
        n.output[0]: init[n.input[0]]
        for n in model.graph.node
        if n.op_type == "DequantizeLinear" and n.input[0] in init
    }
    kinds = {"dense": set(), "depthwise": set()}
    for n in model.graph.node:
        if n.op_type in ("Conv", "Gemm") and n.input[1] in weight_of:
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            kinds["depthwise" if group > 1 else "dense"].add(weight_of[n.input[1]].data_type)
    assert kinds["dense"] == {onnx.TensorProto.UINT8}
    assert kinds["depthwise"] == {onnx.TensorProto.INT8}
    assert int8.stat().st_size < lite0_onnx.stat().st_size / 2
    batch = preprocess_batch(_photos(6, seed=4), spec)
    emb8, _ = run_onnx(int8, batch)
    emb32, _ = run_onnx(lite0_onnx, batch)
    n8 = emb8 / np.linalg.norm(emb8, axis=1, keepdims=True)
    n32 = emb32 / np.linalg.norm(emb32, axis=1, keepdims=True)
    similarity = n8 @ n32.T
    # A broken quantisation loses which photo is which.
    assert np.diag(similarity).min() > 0.75
    assert (similarity.argmax(axis=1) == np.arange(len(batch))).all()
    rng = np.random.default_rng(0)
    head = Head(
        "h",
        ["x", "y", "z"],
        [rng.normal(size=(1280, 3)).astype(np.float32)],
        [np.zeros(3, np.float32)],
    )
    agreement = head_agreement(lite0_onnx, int8, batch, head)
    assert 0.0 <= agreement <= 1.0
    assert head_agreement(lite0_onnx, lite0_onnx, batch, head) == 1.0


def test_export_falls_back_to_the_dynamo_exporter(tmp_path: Path, monkeypatch):
    weights = tmp_path / "r18.pth"
    torch.save(ResNet18Net().state_dict(), weights)
    model = build_backbone("resnet18", weights, image_size=TEST_SIZE)
    real_export = torch.onnx.export

    def legacy_gone(*args, **kwargs):
        if kwargs.get("dynamo") is False:
            raise RuntimeError("the TorchScript exporter is gone")
        return real_export(*args, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", legacy_gone)
    spec = default_spec("resnet18", size=TEST_SIZE)
    info = export_onnx(model, tmp_path / "r18.onnx", spec)
    assert info["exporter"] == "dynamo" and info["opset"] >= 17
    p = parity(model, tmp_path / "r18.onnx", preprocess_batch(_photos(3, seed=5), spec))
    assert p["max_abs_diff"] < 1e-3 and p["top1_agreement"] == 1.0
    emb, _ = run_onnx(tmp_path / "r18.onnx", preprocess_batch(_photos(2), spec))
    assert emb.shape == (2, 512)
