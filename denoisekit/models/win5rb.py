"""Win5-RB (Liu & Fang, 2017): a wide, shallow network with a residual connection and BN."""

from __future__ import annotations

import torch
from torch import nn

from denoisekit.models import register_model


@register_model("win5rb")
class Win5RB(nn.Module):
    """(conv ``kernel_size``² with ``features`` filters, BN, ReLU) × (num_layers − 1), then a conv
    back to the image; the input is added to the output (the stack learns the negated noise).

    >>> Win5RB(channels=1, features=8)(torch.zeros(1, 1, 16, 16)).shape
    torch.Size([1, 1, 16, 16])
    """

    def __init__(self, channels: int = 1, features: int = 128, kernel_size: int = 7, num_layers: int = 5) -> None:
        super().__init__()
        pad = kernel_size // 2
        layers: list[nn.Module] = []
        width = channels
        for _ in range(num_layers - 1):
            layers += [nn.Conv2d(width, features, kernel_size, padding=pad), nn.BatchNorm2d(features)]
            layers.append(nn.ReLU(inplace=True))
            width = features
        layers.append(nn.Conv2d(width, channels, kernel_size, padding=pad))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        return x + self.body(x)
