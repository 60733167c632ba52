"""DnCNN (Zhang et al., 2017): residual learning of the noise with batch normalisation."""

from __future__ import annotations

import torch
from torch import nn

from denoisekit.models import register_model


@register_model("dncnn")
class DnCNN(nn.Module):
    """``num_layers`` 3×3 convolutions: conv+ReLU, (conv+BN+ReLU) × (num_layers − 2), conv.
    The stack predicts the noise, which is subtracted from the input.

    >>> DnCNN(channels=1, num_layers=5)(torch.zeros(1, 1, 16, 16)).shape
    torch.Size([1, 1, 16, 16])
    """

    def __init__(self, channels: int = 1, features: int = 64, num_layers: int = 17) -> None:
        super().__init__()
        self.num_layers = num_layers
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(num_layers - 2):
            layers += [nn.Conv2d(features, features, 3, padding=1, bias=False), nn.BatchNorm2d(features)]
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(features, channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        return x - self.body(x)
