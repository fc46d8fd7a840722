"""The seed's original classification path, for baselines (torch is fine in bench/).

Per photo: decode the *whole* file with OpenCV, resize to 224, equalise luminance, and run
an eager PyTorch ResNet-18 at batch 1. The weights are random: its timing depends only on
the shapes, and torchvision is not a dependency, so the model is written out here.
"""

from __future__ import annotations

import cv2
import numpy as np

SEED_LABELS = ["landscape", "people", "architecture"]


def resnet18(num_classes: int = len(SEED_LABELS)):
    """torchvision's ResNet-18 layout in plain torch, in eval mode."""
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + (x if self.down is None else self.down(x)))

    layers = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers).eval()


def seed_classify(data: bytes, model) -> str:
    """One photo through the seed's path: full decode, resize, equalise, eager batch-1."""
    import torch

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # the whole image
    image = cv2.resize(image, (224, 224))
    ycc = cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)
    ycc[:, :, 0] = cv2.equalizeHist(ycc[:, :, 0])
    image = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
    x = torch.from_numpy(image).permute(2, 0, 1).float().div(255).unsqueeze(0)
    with torch.no_grad():
        return SEED_LABELS[int(model(x).argmax())]
