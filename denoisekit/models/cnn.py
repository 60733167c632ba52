"""A plain CNN: a stack of 3×3 convolutions and ReLUs mapping the noisy image to the clean one."""

from __future__ import annotations

import torch
from torch import nn

from denoisekit.models import register_model


@register_model("cnn")
class PlainCNN(nn.Module):
    """``depth`` 3×3 convolutions (``features`` channels, ReLU between), no skip: the baseline.

    >>> PlainCNN(channels=1)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 1, 28, 28])
    """

    def __init__(self, channels: int = 1, features: int = 64, depth: int = 5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = channels
        for _ in range(depth - 1):
            layers += [nn.Conv2d(width, features, 3, padding=1), nn.ReLU(inplace=True)]
            width = features
        layers.append(nn.Conv2d(width, channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(x)
