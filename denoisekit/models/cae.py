"""The convolutional autoencoder of the classic Keras MNIST denoising tutorial."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from denoisekit.models import register_model


@register_model("cae")
class ConvAutoencoder(nn.Module):
    """Encoder: (3×3 conv, ReLU, 2×2 max-pool) ×2; decoder: (3×3 conv, ReLU, 2× upsampling) ×2,
    then a 3×3 conv and a sigmoid. Inputs of any size are padded to a multiple of 4.

    >>> ConvAutoencoder(channels=1)(torch.zeros(1, 1, 30, 30)).shape
    torch.Size([1, 1, 30, 30])
    """

    def __init__(self, channels: int = 1, features: int = 32) -> None:
        super().__init__()

        def conv(cin: int, cout: int) -> nn.Module:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True))

        pool = nn.MaxPool2d(2)
        self.encoder = nn.Sequential(conv(channels, features), pool, conv(features, features), pool)
        self.decoder = nn.Sequential(
            conv(features, features),
            nn.Upsample(scale_factor=2),
            conv(features, features),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(features, channels, 3, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        height, width = x.shape[-2:]
        padded = F.pad(x, (0, -width % 4, 0, -height % 4), mode="reflect")
        return self.decoder(self.encoder(padded))[..., :height, :width]
